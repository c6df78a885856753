"""The success envelopes: ``{"data": ...}`` and, for lists, ``{"data": [...], "pagination": {...}}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from opencaller.engine.pagination import Page

T = TypeVar("T")


def data(payload: Any) -> dict[str, Any]:
    """Wrap one resource or a plain list."""
    return {"data": payload}


def page(result: Page[T], view: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """Wrap a page of resources with its pagination block."""
    return {
        "data": [view(item) for item in result.items],
        "pagination": {"limit": result.limit, "nextCursor": result.next_cursor},
    }
