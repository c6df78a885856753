"""Translate Twilio SDK and transport failures into :mod:`opencaller.telephony.errors`.

Twilio answers errors with JSON ``{"code": 21211, "message": ..., "status": 400}``; the numeric code says more
than the HTTP status (a 400 may be a bad number or a bad parameter). The mapping below decides, once, which
failures the engine may retry and which are final.
"""

from __future__ import annotations

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from opencaller.telephony.errors import (
    AuthenticationError,
    CallNotFoundError,
    InvalidNumberError,
    InvalidRequestError,
    OutcomeUnknownError,
    ProviderUnavailableError,
    RateLimitedError,
    TelephonyError,
)

INVALID_NUMBER_CODES = frozenset(
    {
        13223,  # Dial: invalid phone number format
        13224,  # Dial: invalid phone number
        21210,  # 'From' phone number not verified
        21211,  # invalid 'To' phone number
        21212,  # invalid caller phone number
        21214,  # 'To' phone number cannot be reached
        21215,  # geographic permission for the destination is off
        21216,  # destination blocked
        21217,  # phone number does not appear to be valid
        21219,  # 'To' number not verified (trial account)
    }
)
AUTHENTICATION_CODES = frozenset({20003, 20005})  # authentication failed; account not active
NOT_FOUND_CODES = frozenset({20404})
RATE_LIMIT_CODES = frozenset({20429})


def translate_rest_error(exc: TwilioRestException | TwilioServiceException) -> TelephonyError:
    """The neutral error for a Twilio API error answer, keeping its code and HTTP status."""
    status = int(exc.status) if exc.status is not None else None
    code = int(exc.code) if isinstance(exc.code, int) else None
    message = str(getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "") or "")
    message = message or f"Twilio error {code or status}"
    kind: type[TelephonyError]
    if code in INVALID_NUMBER_CODES:
        kind = InvalidNumberError
    elif code in AUTHENTICATION_CODES or status in (401, 403):
        kind = AuthenticationError
    elif code in NOT_FOUND_CODES or status == 404:
        kind = CallNotFoundError
    elif code in RATE_LIMIT_CODES or status == 429:
        kind = RateLimitedError
    elif status is not None and status >= 500:
        kind = ProviderUnavailableError
    else:
        kind = InvalidRequestError
    return kind(message, provider_code=code, provider_http_status=status)


def translate_transport_error(exc: httpx.HTTPError) -> TelephonyError:
    """The neutral error for a network failure: retryable when the request surely never left, else unknown."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return ProviderUnavailableError(f"Twilio API unreachable: {exc!r}")
    return OutcomeUnknownError(f"Twilio API request may have been sent, no answer: {exc!r}")


def translate(exc: BaseException) -> TelephonyError | None:
    """The neutral error for any SDK or httpx failure, or None when ``exc`` is not one of theirs."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return translate_rest_error(exc)
    if isinstance(exc, httpx.HTTPError):
        return translate_transport_error(exc)
    if isinstance(exc, TwilioException):
        return InvalidRequestError(f"Twilio SDK error: {exc}")
    return None
