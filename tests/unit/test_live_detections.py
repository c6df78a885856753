"""The node's registry of media sessions waiting for an answering-machine verdict."""

from __future__ import annotations

from opencaller.agent.answerer import Answerer, AnswerHint
from opencaller.agent.channel import LateDetection
from opencaller.engine.machine_detection import LiveDetections

HUMAN = AnswerHint(Answerer.HUMAN)


def test_a_verdict_reaches_the_session_of_its_call_leg_only() -> None:
    sessions = LiveDetections()
    mine, other_call, earlier_leg = LateDetection(), LateDetection(), LateDetection()
    with (
        sessions.register("call-1", "CA-new", mine),
        sessions.register("call-2", "CA-new", other_call),
        sessions.register("call-1", "CA-old", earlier_leg),
    ):
        assert sessions.deliver("call-1", "CA-new", HUMAN)

    assert mine.hint == HUMAN
    assert other_call.hint is None and earlier_leg.hint is None


def test_a_second_socket_for_the_call_does_not_push_the_session_out() -> None:
    sessions = LiveDetections()
    real, stray = LateDetection(), LateDetection()
    with sessions.register("call-1", "CA-1", real):
        with sessions.register("call-1", "CA-1", stray):
            pass  # the stray socket is refused and leaves
        delivered = sessions.deliver("call-1", "CA-1", HUMAN)

    assert delivered and real.hint == HUMAN


def test_nothing_is_delivered_once_the_session_has_ended() -> None:
    sessions = LiveDetections()
    detection = LateDetection()
    with sessions.register("call-1", "CA-1", detection):
        pass

    assert not sessions.deliver("call-1", "CA-1", HUMAN)
    assert detection.hint is None
