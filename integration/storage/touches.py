"""The first action a person took on each lead (a note, a call, a task or a stage move), for speed to lead.

Only the earliest action is kept: a later sighting of an earlier action replaces it, a later action never
does, so pulling the same history twice (or out of order) changes nothing. Each account also keeps the moment
its last pull reached, so the next one asks amoCRM only for what is newer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Table
from sqlmodel import Field, Session, SQLModel, col, select

from integration.storage.leads import dialect_insert


class LeadFirstTouch(SQLModel, table=True):
    __tablename__ = "lead_first_touches"

    account_id: int = Field(primary_key=True)
    lead_id: int = Field(primary_key=True, sa_type=BigInteger)
    touched_at: int = Field(description="unix seconds of the earliest action by a person")
    kind: str = Field(description="note | call | task | stage")
    user_id: int | None = Field(default=None, sa_type=BigInteger, description="amoCRM user who acted")


class TouchPullCursor(SQLModel, table=True):
    __tablename__ = "touch_pull_cursors"

    account_id: int = Field(primary_key=True)
    pulled_until: int = Field(description="unix seconds: actions up to here have been read")


def record_first_touches(*, session: Session, rows: Sequence[Mapping[str, Any]], chunk: int = 500) -> None:
    """Keep, per lead, the earliest of the stored action and these (rows: account_id, lead_id, touched_at,
    kind, user_id)."""
    earliest: dict[tuple[int, int], Mapping[str, Any]] = {}
    for row in rows:
        key = (int(row["account_id"]), int(row["lead_id"]))
        if key not in earliest or row["touched_at"] < earliest[key]["touched_at"]:
            earliest[key] = row
    ordered = list(earliest.values())
    insert = dialect_insert(session)
    table: Table = LeadFirstTouch.__table__  # type: ignore[attr-defined]
    for start in range(0, len(ordered), chunk):
        statement = insert(table).values(ordered[start : start + chunk])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["account_id", "lead_id"],
                set_={
                    "touched_at": statement.excluded.touched_at,
                    "kind": statement.excluded.kind,
                    "user_id": statement.excluded.user_id,
                },
                where=table.c.touched_at > statement.excluded.touched_at,
            )
        )


def first_touches(*, session: Session, account_id: int, lead_ids: Iterable[int]) -> dict[int, LeadFirstTouch]:
    """The stored first actions of these leads (leads nobody touched are absent)."""
    wanted = sorted(set(lead_ids))
    found: dict[int, LeadFirstTouch] = {}
    for start in range(0, len(wanted), 500):
        statement = select(LeadFirstTouch).where(
            col(LeadFirstTouch.account_id) == account_id,
            col(LeadFirstTouch.lead_id).in_(wanted[start : start + 500]),
        )
        found.update({touch.lead_id: touch for touch in session.exec(statement)})
    return found


def pulled_until(*, session: Session, account_id: int) -> int | None:
    cursor = session.get(TouchPullCursor, account_id)
    return None if cursor is None else cursor.pulled_until


def set_pulled_until(*, session: Session, account_id: int, moment: int) -> None:
    cursor = session.get(TouchPullCursor, account_id)
    if cursor is None:
        session.add(TouchPullCursor(account_id=account_id, pulled_until=moment))
    elif moment > cursor.pulled_until:
        cursor.pulled_until = moment
        session.add(cursor)
