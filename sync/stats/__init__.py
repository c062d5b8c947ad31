"""Funnel statistics: pure metrics (`metrics`), periods (`periods`), SQL aggregation (`queries`), plans and
spend entry (`plans`), bonus freezing and backfill (`service`, `backfill`)."""
