"""Retry policy: whether an unanswered attempt is tried again, and after how long."""

from __future__ import annotations

from datetime import timedelta

from opencaller.domain.status import CallStatus
from opencaller.domain.templates import RetryPolicy

_RETRYABLE = {
    CallStatus.BUSY: "busy",
    CallStatus.NO_ANSWER: "noAnswer",
    CallStatus.FAILED: "failed",
}


def retry_delay(policy: RetryPolicy, outcome: CallStatus | str, attempts_made: int) -> timedelta | None:
    """The wait before the next attempt, or ``None`` when the call's status becomes final.

    ``outcome`` is the attempt's status, or ``"voicemail"``. ``attempts_made`` counts dials so far, this one
    included. Delays come from ``delaysMinutes`` in order; the last one repeats.
    """
    key = "voicemail" if outcome == "voicemail" else _RETRYABLE.get(CallStatus(outcome))
    if key is None or key not in policy.retry_on or attempts_made >= policy.max_attempts:
        return None
    delays = policy.delays_minutes or [0]
    return timedelta(minutes=delays[min(attempts_made - 1, len(delays) - 1)])
