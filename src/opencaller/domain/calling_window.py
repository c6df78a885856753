"""Calling windows: whether a call may ring now in the callee's local time, and when it next may.

A number whose country spans several time zones (``+1`` area codes are usually one zone, Australia's mobiles
are not) must be inside the window in every zone it may be in, unless the team or call names one zone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from opencaller.domain.templates import WEEKDAYS, CallingWindow

_STEP = timedelta(minutes=1)
_HORIZON = timedelta(days=8)


def _inside(moment: datetime, window: CallingWindow, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    if WEEKDAYS[local.weekday()] not in window.days:
        return False
    start = time.fromisoformat(window.start)
    end = time.fromisoformat(window.end)
    return start <= local.time() < end


def is_open(moment: datetime, window: CallingWindow | None, zones: list[str]) -> bool:
    """Whether ``moment`` (aware) is inside ``window`` in every one of ``zones`` (no window: always)."""
    if window is None:
        return True
    infos = [ZoneInfo(z) for z in zones] or [ZoneInfo("UTC")]
    return all(_inside(moment, window, zone) for zone in infos)


def next_opening(moment: datetime, window: CallingWindow | None, zones: list[str]) -> datetime | None:
    """The earliest time at or after ``moment`` when the window is open in every zone.

    ``None`` when no such minute exists within a week (zones so far apart that their windows never overlap).
    """
    if is_open(moment, window, zones):
        return moment
    assert window is not None
    candidates = _boundaries(moment, window, zones)
    for candidate in candidates:
        if is_open(candidate, window, zones):
            return candidate
    return None


def _boundaries(moment: datetime, window: CallingWindow, zones: list[str]) -> list[datetime]:
    """Window starts in each zone over the next week: the only instants where the window can open."""
    found: set[datetime] = set()
    start = time.fromisoformat(window.start)
    for name in zones or ["UTC"]:
        zone = ZoneInfo(name)
        local_day = moment.astimezone(zone).date()
        for offset in range(_HORIZON.days):
            day = local_day + timedelta(days=offset)
            opening = datetime.combine(day, start, tzinfo=zone)
            if opening >= moment:
                found.add(opening.astimezone(moment.tzinfo))
    return sorted(found)
