"""Tables for the stats area (owned by that area; see docs/architecture.md)."""
