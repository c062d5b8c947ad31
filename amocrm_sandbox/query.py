"""Reading amoCRM's list parameters: `page`, `limit`, `with`, `query`, `order[...]`, `filter[...]` [doc].

PHP-style keys are accepted in every form amoCRM accepts: `filter[id]=1`, `filter[id][]=1`,
`filter[id][0]=1`, comma lists, `filter[updated_at][from]`, `filter[statuses][0][status_id]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from amocrm_sandbox.problems import Problem

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
DEFAULT_LIMIT = 50
TIME_FILTERS = frozenset({"created_at", "updated_at", "closed_at", "closest_task_at"})


@dataclass(frozen=True, slots=True)
class ListParams:
    page: int = 1
    limit: int = DEFAULT_LIMIT
    with_: frozenset[str] = frozenset()
    query: str | None = None
    order: tuple[str, bool] | None = None  # (field, descending)
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)
    statuses: tuple[tuple[int, int | None], ...] = ()
    # From the `If-Modified-Since` header [doc]: only entities changed after this moment.
    modified_since: int | None = None

    def ints(self, name: str) -> frozenset[int] | None:
        values = self.filters.get(name)
        if values is None:
            return None
        try:
            return frozenset(int(v) for v in values)
        except ValueError:
            raise Problem(400, f"filter[{name}] must hold integers") from None

    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _split(key: str) -> tuple[str, list[str]] | None:
    match = _KEY.match(key)
    if match is None:
        return None
    return match.group(1), _PART.findall(match.group(2))


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Problem(400, f"{name} must be an integer") from None


def parse_http_date(value: str | None) -> int | None:
    """Unix seconds of an HTTP date (`If-Modified-Since`); None when absent, 400 when unreadable."""
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        raise Problem(400, "If-Modified-Since is not an HTTP date") from None


def parse_list_params(
    items: Iterable[tuple[str, str]], *, page_limit_max: int, modified_since: int | None = None
) -> ListParams:
    page, limit = 1, DEFAULT_LIMIT
    with_: set[str] = set()
    query: str | None = None
    order: tuple[str, bool] | None = None
    filters: dict[str, list[str]] = {}
    ranges: dict[str, tuple[int | None, int | None]] = {}
    statuses: dict[str, dict[str, int]] = {}
    for key, value in items:
        parsed = _split(key)
        if parsed is None:
            continue
        name, parts = parsed
        if name == "page" and not parts:
            page = _int(value, "page")
        elif name == "limit" and not parts:
            limit = _int(value, "limit")
        elif name == "with" and not parts:
            with_.update(v.strip() for v in value.split(",") if v.strip())
        elif name == "query" and not parts:
            query = value
        elif name == "order" and parts:
            order = (parts[0], value.lower() == "desc")
        elif name == "filter" and parts:
            head, rest = parts[0], parts[1:]
            if head == "statuses" and len(rest) == 2:
                statuses.setdefault(rest[0], {})[rest[1]] = _int(value, key)
            elif head in TIME_FILTERS and not rest:
                # A single time instead of a range: taken as exactly that second [assumed].
                moment = _int(value, key)
                ranges[head] = (moment, moment)
            elif rest and rest[0] in ("from", "to"):
                low, high = ranges.get(head, (None, None))
                bound = _int(value, key)
                ranges[head] = (bound, high) if rest[0] == "from" else (low, bound)
            else:
                filters.setdefault(head, []).extend(v for v in value.split(",") if v != "")
    if page < 1:
        raise Problem(400, "page must be 1 or more")
    if limit < 1 or limit > page_limit_max:
        raise Problem(400, f"limit must be between 1 and {page_limit_max}")
    return ListParams(
        page=page,
        limit=limit,
        with_=frozenset(with_),
        query=query,
        order=order,
        filters={k: tuple(v) for k, v in filters.items()},
        ranges=ranges,
        statuses=tuple(
            (s["pipeline_id"], s.get("status_id")) for s in statuses.values() if "pipeline_id" in s
        ),
        modified_since=modified_since,
    )


def in_range(value: int | None, bounds: tuple[int | None, int | None] | None) -> bool:
    if bounds is None:
        return True
    if value is None:
        return False
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)
