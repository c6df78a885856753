"""Phone numbers: validation and normalisation to E.164, and the time zones a number may ring in."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezone


class InvalidPhoneNumber(ValueError):
    """The text is not a dialable phone number."""


def normalize_e164(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as an E.164 string (``+12025550100``), or raise :class:`InvalidPhoneNumber`.

    ``default_region`` (ISO 3166 alpha-2, e.g. ``US``) reads numbers written without a country code.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidPhoneNumber(f"'{raw}' has no valid country code") from exc
        raise InvalidPhoneNumber(f"'{raw}' is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def time_zones_for(e164: str) -> list[str]:
    """IANA time zones the number may be in; empty when the numbering plan does not say."""
    parsed = phonenumbers.parse(e164, None)
    zones = [z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return sorted(zones)
