"""When to retry a failed webhook delivery, and when to stop.

Retries back off exponentially with *full jitter* (a uniform draw between zero and the exponential
ceiling), so a receiver that comes back after an outage is not hit by every queued delivery at the same
instant. Deliveries stop once the first attempt is older than a maximum age (24 hours by default).
Everything here is pure: the random source and the clock are passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_BASE = 5.0
"""Ceiling of the first retry delay, in seconds."""

DEFAULT_CAP = 3600.0
"""Largest ceiling any retry delay can have, in seconds."""

DEFAULT_MAX_AGE = timedelta(hours=24)
"""How long after the first attempt a delivery is still retried."""

_MAX_EXPONENT = 62


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """The retry schedule of webhook deliveries; built from settings once and passed down."""

    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP
    max_age: timedelta = DEFAULT_MAX_AGE

    def __post_init__(self) -> None:
        """Refuse schedules that would never wait or never end."""
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")
        if self.max_age <= timedelta(0):
            raise ValueError("backoff max_age must be positive")


def next_delay(
    attempt: int, *, base: float = DEFAULT_BASE, cap: float = DEFAULT_CAP, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    A uniform draw in ``[0, min(cap, base * 2 ** (attempt - 1))]``. ``rng`` defaults to the module's shared
    generator; tests pass a seeded :class:`random.Random`.
    """
    if attempt < 1:
        raise ValueError("attempt counts failed attempts and starts at 1")
    if base <= 0 or cap < base:
        raise ValueError("backoff needs 0 < base <= cap")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    draw = rng.random() if rng is not None else random.random()
    return ceiling * draw


def should_give_up(first_attempt_at: datetime, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> bool:
    """Whether a delivery first tried at ``first_attempt_at`` is too old to try again at ``now``."""
    return now - first_attempt_at >= max_age


def next_attempt_at(
    attempt: int,
    *,
    first_attempt_at: datetime,
    now: datetime,
    policy: BackoffPolicy,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after failed attempt ``attempt``, or None when the delivery should be given up.

    A retry that would land past the deadline is moved to the deadline, so the last chance is still taken.
    """
    if should_give_up(first_attempt_at, now, policy.max_age):
        return None
    when = now + timedelta(seconds=next_delay(attempt, base=policy.base, cap=policy.cap, rng=rng))
    return min(when, first_attempt_at + policy.max_age)
