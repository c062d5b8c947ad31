"""The storage module: SQLModel tables and the data-access functions around them, one module per area.

Every table carries the amoCRM `account_id` it belongs to. Importing this package registers every table in
`SQLModel.metadata` (Alembic compares the migrations against it in the tests).
"""

from integration.storage import (
    accounts,
    field_mapping,
    hypotheses,
    inbox,
    install_health,
    jobs,
    leads,
    promos,
    rulesets,
    sign_ins,
    stats,
    touches,
    users,
)

__all__ = [
    "accounts",
    "field_mapping",
    "hypotheses",
    "inbox",
    "install_health",
    "jobs",
    "leads",
    "promos",
    "rulesets",
    "sign_ins",
    "stats",
    "touches",
    "users",
]
