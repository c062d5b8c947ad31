"""/metrics for a caller without the token: per-account series summed into totals that name no account."""

from __future__ import annotations

from integration.observability import Metrics


def test_anonymous_rendering_sums_accounts_and_hosts_away() -> None:
    """Two accounts' counters become one total per remaining label set, with no account id or host left."""
    metrics = Metrics()
    metrics.events_processed.labels(account_id="31000001").inc(2)
    metrics.events_processed.labels(account_id="31000002").inc(3)
    metrics.amocrm_responses.labels(host="alpha.amocrm.ru", status="200").inc(4)
    metrics.amocrm_responses.labels(host="beta.amocrm.ru", status="200").inc(1)
    metrics.amocrm_responses.labels(host="beta.amocrm.ru", status="429").inc(1)
    metrics.worker_batch_seconds.observe(0.2)

    anonymous = metrics.render(per_account=False).decode()
    full = metrics.render(per_account=True).decode()

    assert "leadpact_events_processed_total 5.0" in anonymous
    assert 'leadpact_amocrm_responses_total{status="200"} 5.0' in anonymous
    assert 'leadpact_amocrm_responses_total{status="429"} 1.0' in anonymous
    assert "leadpact_worker_batch_seconds_count 1.0" in anonymous
    for name in ("31000001", "31000002", "alpha.amocrm.ru", "beta.amocrm.ru"):
        assert name not in anonymous
        assert name in full
