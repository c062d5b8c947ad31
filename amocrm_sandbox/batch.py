"""Batch writes: at most `batch_limit` entities per request [seen], each named by its `request_id`."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from amocrm_sandbox.problems import Problem
from amocrm_sandbox.state import SandboxState


def check_batch(state: SandboxState, payload: Any) -> list[Any]:
    if not isinstance(payload, list) or not payload:
        raise Problem(400, "Request body must be a non-empty JSON array")
    if len(payload) > state.config.batch_limit:
        raise Problem(400, f"Too many entities in one request: at most {state.config.batch_limit}")
    return payload


def request_id_of(item: Any, index: int) -> str:
    if isinstance(item, dict) and item.get("request_id") is not None:
        return str(item["request_id"])
    return str(index)


def contains(container: Container[Any], value: Any) -> bool:
    """`value in container`, False for values that cannot be keys (a client may send a list where an id goes)."""
    try:
        return value in container
    except TypeError:
        return False
