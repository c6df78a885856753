"""Twilio's REST error responses, as the simulator returns them.

Twilio answers errors with ``{"code", "message", "more_info", "status"}``; platforms branch on ``code`` (20404
"not found" means the call is already gone, 21211 an invalid ``To``, 20003 bad credentials), so the simulator
uses the same codes and shape.
"""

from __future__ import annotations

from typing import Any


class TwilioApiError(Exception):
    """An error the REST API reports with Twilio's JSON body and HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Twilio sends for this error."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def not_found(path: str) -> TwilioApiError:
    """Twilio's 20404 for a resource that does not exist (or a call that has already ended)."""
    return TwilioApiError(404, 20404, f"The requested resource {path} was not found")


def unauthorized() -> TwilioApiError:
    """Twilio's 20003 for missing or wrong credentials."""
    return TwilioApiError(401, 20003, "Authenticate")


def invalid_parameter(message: str, code: int = 21201) -> TwilioApiError:
    """A 400 for a bad request parameter; ``code`` is Twilio's code for that parameter."""
    return TwilioApiError(400, code, message)
