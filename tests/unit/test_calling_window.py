"""Calling windows in the callee's local time, with an injected instant (no real clock involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opencaller.domain.calling_window import is_open, next_opening
from opencaller.domain.phone import time_zones_for
from opencaller.domain.retry import retry_delay
from opencaller.domain.status import CallStatus
from opencaller.domain.templates import CallingWindow, RetryPolicy

WEEKDAYS_9_TO_8 = CallingWindow(start="09:00", end="20:00", days=["mon", "tue", "wed", "thu", "fri"])
# Wednesday 2 December 2026
WED = datetime(2026, 12, 2, tzinfo=UTC)


def test_new_york_inside_and_outside() -> None:
    zones = time_zones_for("+12025550100")
    assert zones == ["America/New_York"]
    assert is_open(WED.replace(hour=15), WEEKDAYS_9_TO_8, zones)  # 10:00 in New York (UTC-5)
    assert not is_open(WED.replace(hour=13), WEEKDAYS_9_TO_8, zones)  # 08:00
    assert not is_open(WED.replace(hour=1), WEEKDAYS_9_TO_8, zones)  # 20:00 the day before: end is exclusive
    assert next_opening(WED.replace(hour=13), WEEKDAYS_9_TO_8, zones) == WED.replace(hour=14)


def test_india_has_a_half_hour_offset() -> None:
    zones = time_zones_for("+919812345678")
    # 09:00 in India is 03:30 UTC
    assert not is_open(WED.replace(hour=3, minute=29), WEEKDAYS_9_TO_8, zones)
    assert is_open(WED.replace(hour=3, minute=30), WEEKDAYS_9_TO_8, zones)
    assert next_opening(WED.replace(hour=1), WEEKDAYS_9_TO_8, zones) == WED.replace(hour=3, minute=30)


def test_sydney_friday_evening_waits_for_monday() -> None:
    zones = time_zones_for("+61291234567")
    # Friday 4 December 2026, 21:00 in Sydney (UTC+11 in summer) is 10:00 UTC
    friday_night = datetime(2026, 12, 4, 10, tzinfo=UTC)
    assert not is_open(friday_night, WEEKDAYS_9_TO_8, zones)
    monday_9 = datetime(2026, 12, 6, 22, tzinfo=UTC)  # Monday 7 December 09:00 in Sydney
    assert next_opening(friday_night, WEEKDAYS_9_TO_8, zones) == monday_9


def test_a_multi_zone_number_must_be_inside_the_window_everywhere() -> None:
    zones = time_zones_for("+61412345678")  # an Australian mobile: any of eight zones
    assert len(zones) > 1
    # 01:30 UTC: 09:30 in Perth and 12:30 in Sydney, but 08:00 on the Cocos Islands (UTC+6:30)
    assert not is_open(WED.replace(hour=1, minute=30), WEEKDAYS_9_TO_8, zones)
    opening = next_opening(WED.replace(hour=1, minute=30), WEEKDAYS_9_TO_8, zones)
    assert opening == WED.replace(hour=2, minute=30)  # 09:00 on the Cocos Islands, inside everywhere else
    assert not is_open(WED.replace(hour=9), WEEKDAYS_9_TO_8, zones)  # 20:00 on Lord Howe (UTC+11)
    # a team that names one zone is judged in that zone only
    assert is_open(WED.replace(hour=1, minute=30), WEEKDAYS_9_TO_8, ["Australia/Perth"])


def test_no_window_means_any_time() -> None:
    assert is_open(WED, None, ["America/New_York"])
    assert next_opening(WED, None, []) == WED


def test_windows_that_never_overlap_have_no_opening() -> None:
    narrow = CallingWindow(start="09:00", end="10:00", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    assert next_opening(WED, narrow, ["America/New_York", "Asia/Tokyo"]) is None


def test_retry_delays_follow_the_policy() -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=["busy", "noAnswer"], delays_minutes=[5, 60])
    assert retry_delay(policy, CallStatus.BUSY, 1) == timedelta(minutes=5)
    assert retry_delay(policy, CallStatus.NO_ANSWER, 2) == timedelta(minutes=60)
    assert retry_delay(policy, CallStatus.BUSY, 3) is None  # attempts used up
    assert retry_delay(policy, CallStatus.FAILED, 1) is None  # not retried on
    assert retry_delay(policy, "voicemail", 1) is None
    assert retry_delay(RetryPolicy(), CallStatus.BUSY, 1) is None  # one attempt by default
