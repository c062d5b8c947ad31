"""Promo matching cost per lead with 500 active promos (goal: < 0.2 ms per lead).

Run: `.venv/bin/python bench/promos.py [--promos 500] [--leads 20000]`. Most promos pin a campaign, a
channel or a source, as marketing's do; a few are generic (level, price, tags).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and bench/rules.py would hide the `rules` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from rules.promo import Promo, lead_facts  # noqa: E402
from sync.promos.matching import candidate_promos, compile_promos, match_promos  # noqa: E402

CHANNELS = ("ads", "seo", "social", "email", "partners", "direct", "referral", "events")
LEVELS = ("hot", "warm", "cold", "unknown")


@dataclass(frozen=True)
class Classification:
    channel: str | None
    level: str | None
    qualified: bool | None


def make_promos(count: int, rng: random.Random) -> list[Promo]:
    promos = []
    for i in range(count):
        kind = i % 50
        if kind < 30:
            condition = f'utm_campaign == "camp{i}" and level in ["hot", "warm"]'
        elif kind < 42:
            condition = f'channel == "{rng.choice(CHANNELS)}" and utm_source == "src{i % 40}"'
        elif kind < 48:
            condition = f'utm_source == "src{i % 40}" and price > {rng.randint(0, 100_000)}'
        else:
            condition = (
                f'level == "hot" and price > {rng.randint(0, 100_000)}' if kind == 48 else '"vip" in tags'
            )
        promos.append(Promo(key=f"promo{i}", name=f"Promo {i}", condition=condition, shared_code=f"CODE{i}"))
    return promos


def make_lead(rng: random.Random, promo_count: int) -> tuple[Classification, dict[str, Any]]:
    campaign = f"camp{rng.randrange(promo_count)}"
    lead = {
        "id": rng.randrange(1, 10**9),
        "pipeline_id": rng.choice((1, 2, 3)),
        "status_id": 10,
        "price": rng.randint(0, 200_000),
        "custom_fields_values": [
            {"field_code": "UTM_CAMPAIGN", "values": [{"value": campaign}]},
            {"field_code": "UTM_SOURCE", "values": [{"value": f"src{rng.randrange(40)}"}]},
        ],
        "_embedded": {"tags": [{"name": "vip"}] if rng.random() < 0.1 else []},
    }
    return Classification(rng.choice(CHANNELS), rng.choice(LEVELS), None), lead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--promos", type=int, default=500)
    parser.add_argument("--leads", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(6)
    promos = make_promos(args.promos, rng)
    started = time.perf_counter()
    book = compile_promos(promos)
    compile_ms = (time.perf_counter() - started) * 1000
    leads = [make_lead(rng, args.promos) for _ in range(args.leads)]
    now = datetime(2026, 5, 10, tzinfo=UTC)
    evaluated = sum(len(candidate_promos(book, lead_facts(c, lead))) for c, lead in leads[:1000])

    started = time.perf_counter()
    matched = sum(len(match_promos(book, classification, lead, now)) for classification, lead in leads)
    per_lead_ms = (time.perf_counter() - started) * 1000 / len(leads)

    every_promo = {
        compiled.position: compiled
        for by_value in book.index.values()
        for bucket in by_value.values()
        for compiled in bucket
    }
    every_promo.update({compiled.position: compiled for compiled in book.unindexed})
    sample = leads[:200]
    started = time.perf_counter()
    for classification, lead in sample:
        facts = lead_facts(classification, lead)
        for compiled in every_promo.values():
            compiled.applies_to(facts)
    naive_ms = (time.perf_counter() - started) * 1000 / len(sample)

    print(f"promos: {len(book)} active, compiled and indexed in {compile_ms:.0f} ms")
    print(
        f"leads: {len(leads)}, promos evaluated per lead: {evaluated / 1000:.1f}, matches per lead: "
        f"{matched / len(leads):.2f}"
    )
    verdict = "OK" if per_lead_ms < 0.2 else "SLOW"
    print(f"matching cost per lead: {per_lead_ms:.4f} ms (goal < 0.2 ms) — {verdict}")
    print(f"without the index (every promo evaluated): {naive_ms:.2f} ms per lead")


if __name__ == "__main__":
    main()
