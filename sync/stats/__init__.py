"""Funnel statistics (definitions: docs/metrics.md).

- `periods` — reporting periods and the ru/en input errors;
- `metrics` — the figures as pure functions over frozen dataclasses (no I/O);
- `queries` — the SQL aggregation that feeds them (SQLite and PostgreSQL);
- `service` — one account's figures for one period (`figures_for`), with the active rules' settings;
- `plans` — entering plans and spend (validation, CSV), `bonus` — freezing a closed period's bonus base;
- `backfill` — pulling an account's history from amoCRM, resumable; `report` — JSON-ready figures and labels.

Writing the figures back to amoCRM lives in `sync.stats_push`.
"""
