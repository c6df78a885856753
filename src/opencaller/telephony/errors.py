"""Provider-neutral telephony errors, split by what the caller should do next.

The engine never sees a vendor exception: every adapter translates its SDK's and its transport's failures into
this tree, so retry decisions are made once, in one place, for every provider::

    TelephonyError
    ├── RetryableTelephonyError        try again later; the provider did not act on the request
    │   ├── ProviderUnavailableError   network failure before the request was sent, or a 5xx answer
    │   └── RateLimitedError           the provider asked us to slow down (HTTP 429)
    ├── OutcomeUnknownError            the request may have reached the provider (timeout after sending):
    │                                  fetch the call before dialling again, or someone is rung twice
    ├── PermanentTelephonyError        retrying the same request cannot succeed
    │   ├── InvalidNumberError         the destination or caller id is not a dialable number
    │   ├── AuthenticationError        the provider credentials are wrong or the account is disabled
    │   ├── CallNotFoundError          the provider does not know the call (or it has already ended)
    │   └── InvalidRequestError        any other request the provider refused
    └── InvalidCallbackError           a callback or media-stream message that does not parse
"""

from __future__ import annotations


class TelephonyError(Exception):
    """Base of every telephony failure; carries the provider's own error code and HTTP status when known."""

    retryable: bool = False

    def __init__(
        self, message: str, *, provider_code: int | None = None, provider_http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider_code = provider_code
        self.provider_http_status = provider_http_status


class RetryableTelephonyError(TelephonyError):
    """A failure that leaves nothing changed at the provider, so the same request may simply be sent again."""

    retryable = True


class ProviderUnavailableError(RetryableTelephonyError):
    """The provider could not be reached, or answered with a server error."""


class RateLimitedError(RetryableTelephonyError):
    """The provider refused the request because we sent too many; back off before retrying."""


class OutcomeUnknownError(TelephonyError):
    """The request may or may not have been acted on (e.g. a read timeout after the request was sent).

    Not blindly retryable: for a dial, look the call up first, or the callee may be rung twice.
    """


class PermanentTelephonyError(TelephonyError):
    """The provider refused the request in a way that sending it again cannot fix."""


class InvalidNumberError(PermanentTelephonyError):
    """The destination number (or the caller id) is not valid or cannot be dialled."""


class AuthenticationError(PermanentTelephonyError):
    """The provider rejected our credentials."""


class CallNotFoundError(PermanentTelephonyError):
    """The provider has no such call, or the call has already finished and can no longer be changed."""


class InvalidRequestError(PermanentTelephonyError):
    """Any other client-side error the provider reported."""


class InvalidCallbackError(TelephonyError):
    """A status callback, recording callback or media-stream message is missing fields or malformed."""
