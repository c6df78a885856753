"""Retry schedule: exponential ceilings with full jitter, and a deadline, all with injected randomness/clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from opencaller.webhooks.backoff import BackoffPolicy, next_attempt_at, next_delay, should_give_up


class FixedDraw(random.Random):
    """A random source that always draws the same fraction, to read the ceiling off the delay."""

    def __init__(self, draw: float) -> None:
        super().__init__()
        self._draw = draw

    def random(self) -> float:
        return self._draw


def test_ceiling_doubles_from_base_until_cap() -> None:
    top = FixedDraw(1.0)
    delays = [next_delay(attempt, base=5.0, cap=60.0, rng=top) for attempt in range(1, 7)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    assert next_delay(3, base=5.0, cap=60.0, rng=FixedDraw(0.0)) == 0.0
    assert next_delay(3, base=5.0, cap=60.0, rng=FixedDraw(0.5)) == 10.0
    rng = random.Random(7)
    draws = [next_delay(4, base=5.0, cap=60.0, rng=rng) for _ in range(200)]
    assert all(0.0 <= delay <= 40.0 for delay in draws)
    assert len(set(draws)) > 150  # jittered, not a fixed schedule


def test_same_seed_same_schedule() -> None:
    first = [next_delay(n, rng=random.Random(42)) for n in range(1, 10)]
    second = [next_delay(n, rng=random.Random(42)) for n in range(1, 10)]
    assert first == second


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert next_delay(10_000, base=5.0, cap=3600.0, rng=FixedDraw(1.0)) == 3600.0


@pytest.mark.parametrize(("attempt", "base", "cap"), [(0, 5.0, 60.0), (1, 0.0, 60.0), (1, 10.0, 5.0)])
def test_nonsense_arguments_are_refused(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        next_delay(attempt, base=base, cap=cap, rng=FixedDraw(0.5))


def test_give_up_once_the_first_attempt_is_max_age_old() -> None:
    first = datetime(2025, 1, 1, 12, tzinfo=UTC)
    day = timedelta(hours=24)
    assert not should_give_up(first, first + day - timedelta(seconds=1), day)
    assert should_give_up(first, first + day, day)
    assert should_give_up(first, first + timedelta(hours=2), timedelta(hours=1))


def test_next_attempt_is_clamped_to_the_deadline_then_given_up() -> None:
    policy = BackoffPolicy(base=5.0, cap=3600.0, max_age=timedelta(hours=1))
    first = datetime(2025, 1, 1, 12, tzinfo=UTC)
    soon = next_attempt_at(1, first_attempt_at=first, now=first, policy=policy, rng=FixedDraw(1.0))
    assert soon == first + timedelta(seconds=5)
    late_now = first + timedelta(minutes=59)
    late = next_attempt_at(20, first_attempt_at=first, now=late_now, policy=policy, rng=FixedDraw(1.0))
    assert late == first + timedelta(hours=1)
    assert next_attempt_at(21, first_attempt_at=first, now=late, policy=policy, rng=FixedDraw(1.0)) is None


def test_policy_refuses_schedules_that_never_wait_or_never_end() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(base=0.0)
    with pytest.raises(ValueError):
        BackoffPolicy(max_age=timedelta(0))
    assert BackoffPolicy().max_age == timedelta(hours=24)
