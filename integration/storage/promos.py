"""Tables for the promos area (owned by that area; see docs/architecture.md)."""
