"""Call statuses, outcome codes and the forward-only transition table.

Provider callbacks arrive out of order and more than once, so every status change goes through
:func:`can_transition`, which only ever moves a call forward.
"""

from __future__ import annotations

from enum import StrEnum


class CallStatus(StrEnum):
    """The aicaller.io call statuses, spelled exactly as the wire contract spells them."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "inProgress"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "noAnswer"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @property
    def is_final(self) -> bool:
        """True for statuses a call never leaves."""
        return self in FINAL_STATUSES

    @classmethod
    def parse(cls, value: str) -> CallStatus:
        """Read a status from input, accepting the one-L spelling ``canceled`` as an alias."""
        if value == "canceled":
            return cls.CANCELLED
        return cls(value)


FINAL_STATUSES = frozenset(
    {CallStatus.BUSY, CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.CANCELLED, CallStatus.COMPLETED}
)

_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.RINGING: 1,
    CallStatus.IN_PROGRESS: 2,
}


def can_transition(current: CallStatus, new: CallStatus) -> bool:
    """Whether a call in ``current`` may move to ``new``.

    Moves only go forward: ``queued → ringing → inProgress → final``. A final status is never left; an answered
    call can only end ``completed`` (or ``failed`` when the media leg breaks), never ``busy`` or ``noAnswer``.
    """
    if current.is_final or current == new:
        return False
    if new.is_final:
        if current == CallStatus.IN_PROGRESS:
            return new in (CallStatus.COMPLETED, CallStatus.FAILED)
        return True
    return _RANK[new] > _RANK[current]


class StatusCode(StrEnum):
    """Outcome codes carried in ``statusExtraInfo.statusCode``.

    The first five are aicaller's; the rest are opencaller's own, documented in docs/api.md.
    """

    ENDED_NORMALLY = "ENDED_NORMALLY"
    VOICEMAIL_DETECTED = "VOICEMAIL_DETECTED"
    IVR_DETECTED = "IVR_DETECTED"
    DO_NOT_CALL = "DO_NOT_CALL"
    CALL_LATER = "CALL_LATER"
    HUNG_UP_BY_HUMAN = "HUNG_UP_BY_HUMAN"
    MAX_DURATION_REACHED = "MAX_DURATION_REACHED"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    PROVIDER_ERROR = "PROVIDER_ERROR"
