"""Time helpers: one wire format for timestamps and an injectable clock.

aicaller writes server timestamps as ISO-8601 UTC with milliseconds and ``Z`` (``2023-10-12T09:08:00.387Z``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def format_timestamp(value: datetime | None) -> str | None:
    """Render a datetime the way the wire contract does: ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp; a value without an offset is taken as UTC. Raises ValueError when malformed."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC (a value without an offset is taken as UTC); ValueError when UTC cannot represent it.

    ``0001-01-01T00:00:00+14:00`` is a valid ISO-8601 time, but it falls before year 1 in UTC.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of the supported date range (years 1 to 9999 in UTC)") from exc
