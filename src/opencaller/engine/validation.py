"""Turning pydantic's validation errors into the API's ``details`` list (camelCase field paths)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from opencaller.errors import ErrorDetail


def field_path(loc: Sequence[Any], prefix: str = "") -> str:
    """``("phone_calls", 3, "to_phone_number")`` → ``phoneCalls.3.toPhoneNumber``."""
    parts = [prefix] if prefix else []
    for part in loc:
        if isinstance(part, int):
            parts.append(str(part))
        elif part in ("body", "query", "path") and not parts:
            continue
        else:
            parts.append(part if part == "_id" else to_camel(str(part)))
    return ".".join(parts) or "body"


def details_from_pydantic(exc: ValidationError, prefix: str = "") -> list[ErrorDetail]:
    """One detail per problem pydantic found, without echoing the (possibly huge or secret) input."""
    return [ErrorDetail(field_path(err["loc"], prefix), _message(err)) for err in exc.errors(include_input=False)]


def _message(err: Any) -> str:
    message = str(err.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")
