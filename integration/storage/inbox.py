"""Tables for the inbox area (owned by that area; see docs/architecture.md)."""
