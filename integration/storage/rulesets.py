"""Tables for the rulesets area (owned by that area; see docs/architecture.md)."""
