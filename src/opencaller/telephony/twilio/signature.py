"""Verify ``X-Twilio-Signature`` on Twilio webhooks with the SDK's own ``RequestValidator``.

Twilio signs the URL it was configured with plus the sorted form fields (HMAC-SHA1 with the auth token), or,
when a Webhooks rule applies, with a SharedKey and HMAC-SHA256 named in
``X-Twilio-Webhooks-Signature-Settings``. JSON bodies are signed through a ``bodySHA256`` query parameter
instead. Using the SDK's validator keeps us in step with Twilio's quirks (it accepts the URL with and without
the default port).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from opencaller.telephony.base import CallbackRequest, param_pairs


class _MultiParams(dict[str, list[str]]):
    """Form fields keyed by name with every value kept, in the ``getall`` shape the SDK validator reads."""

    def getall(self, name: str) -> list[str]:
        """All values sent under ``name``."""
        return self[name]


class TwilioSignatureVerifier:
    """Checks that a webhook was signed by Twilio for our account (and, optionally, our SharedKey)."""

    def __init__(self, auth_token: str, shared_key_secret: str | None = None) -> None:
        self._validators = {HMAC_SHA1: RequestValidator(auth_token)}
        if shared_key_secret:
            self._validators[HMAC_SHA256] = RequestValidator(shared_key_secret)

    def verify(self, request: CallbackRequest) -> bool:
        """True only when the request's signature matches its public URL and fields; never raises."""
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            return False
        algorithm = get_signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER)).upper()
        validator = self._validators.get(algorithm)
        if validator is None:
            return False
        signed: _MultiParams | str
        if "bodySHA256" in parse_qs(urlsplit(request.url).query):
            try:
                signed = request.body.decode("utf-8")
            except UnicodeDecodeError:
                return False
        else:
            signed = _MultiParams()
            for name, value in param_pairs(request.params):
                signed.setdefault(name, []).append(value)
        try:
            return bool(validator.validate(request.url, signed, signature, algorithm))
        except (ValueError, TypeError):
            return False
