"""The exception tree every layer raises and the API maps to its error shape.

::

    OpenCallerError                 code             HTTP
    ├── ValidationFailed            validation_error  400   (details: one entry per bad field)
    ├── Unauthorized                unauthorized      401
    ├── Forbidden                   forbidden         403   (a provider callback with a bad signature)
    ├── NotFound                    not_found         404   (also: another team's resource)
    ├── Conflict                    conflict          409
    ├── PayloadTooLarge             payload_too_large 413
    └── RateLimited                 rate_limited      429

They are provider- and framework-neutral, so the engine can raise them and the API, the CLI and the dashboard
can each present them in their own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One problem with one field: ``field`` is a dotted path such as ``phoneCalls.3.toPhoneNumber``."""

    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The wire form used in ``error.details``."""
        return {"field": self.field, "message": self.message}


class OpenCallerError(Exception):
    """Base of every error opencaller raises on purpose."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(OpenCallerError):
    """The input broke a rule; nothing was written."""

    code = "validation_error"
    http_status = 400


class Unauthorized(OpenCallerError):
    """No API key, or one that matches no active key."""

    code = "unauthorized"
    http_status = 401


class Forbidden(OpenCallerError):
    """The request is not signed by who it claims to come from (provider callbacks)."""

    code = "forbidden"
    http_status = 403


class NotFound(OpenCallerError):
    """The resource does not exist or belongs to another team (the two are indistinguishable on purpose)."""

    code = "not_found"
    http_status = 404


class Conflict(OpenCallerError):
    """The request is valid but the resource's state forbids it (e.g. cancelling an answered call)."""

    code = "conflict"
    http_status = 409


class PayloadTooLarge(OpenCallerError):
    """The request body is over the configured limit."""

    code = "payload_too_large"
    http_status = 413


class RateLimited(OpenCallerError):
    """Too many requests; try again later."""

    code = "rate_limited"
    http_status = 429
