"""What a live call writes while it runs, on a real database (SQLite and PostgreSQL): the live transcript writer, and
the watch that brings a media session the answering-machine verdict another node stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from opencaller.agent.answerer import Answerer, AnswerHint
from opencaller.agent.channel import LateDetection, Turn
from opencaller.engine.attempts import start_attempt, update_attempt
from opencaller.engine.live_transcript import LiveTranscript
from opencaller.engine.machine_detection import watch_stored_verdict
from opencaller.engine.transcripts import transcript_for
from opencaller.store.claims import lock_call
from tests.support import LiveServer, TeamClient

GUARD = 30.0
"""Upper bound for awaiting the writer or the watch; a guard against hangs, never an assertion about speed."""
LEG = "CA" + "7" * 32


def _queued_call(team: TeamClient) -> str:
    if not team.data(team.get("/v1/phoneNumbers")):
        team.add_number()
    template = team.add_template()
    return str(team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))["_id"])


def _turn(text: str, second: int) -> Turn:
    at = datetime(2024, 5, 1, 12, 0, second, tzinfo=UTC)
    return Turn("agent" if second % 2 == 0 else "human", text, at, at + timedelta(seconds=1))


def test_live_turns_are_stored_in_order_without_waiting_for_the_call(server: LiveServer, team: TeamClient) -> None:
    call_id = _queued_call(team)

    async def scenario() -> tuple[list[str], list[str], int]:
        live = LiveTranscript(server.db, team.team_id, call_id, first_seq=3)
        live.start()
        live.add(_turn("Hello?", 0))  # returns at once: the agent never waits for the database

        async def first_stored() -> None:
            while live.written < 1:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(first_stored(), GUARD)
        async with server.db.read() as session:
            while_live = [t.text for t in await transcript_for(session, team.team_id, call_id)]
        for second, text in enumerate(["Hi, who is this?", "It's Sam.", "Oh hello Sam.", "Bye."], start=1):
            live.add(_turn(text, second))
        await live.close()
        live.add(_turn("too late", 9))  # after close nothing more is written
        async with server.db.read() as session:
            rows = await transcript_for(session, team.team_id, call_id)
        return while_live, [t.text for t in rows], rows[0].seq

    while_live, stored, first_seq = server.run(scenario())

    assert while_live == ["Hello?"]
    assert stored == ["Hello?", "Hi, who is this?", "It's Sam.", "Oh hello Sam.", "Bye."]
    assert first_seq == 3  # numbered after the rows of earlier attempts
    shown = team.data(team.get("/v1/transcripts", params={"phoneCallId": call_id}))
    assert [t["text"] for t in shown] == stored
    assert shown[0]["role"] == "agent" and shown[1]["role"] == "human"


def _attempt_on(server: LiveServer, call_id: str, **fields: object) -> None:
    async def write() -> None:
        async with server.db.transaction() as session:
            call = await lock_call(session, call_id)
            assert call is not None
            if not call.attempts:
                start_attempt(call, datetime.now(UTC))
            update_attempt(call, len(call.attempts) - 1, **fields)

    server.run(write())


def test_a_session_finds_the_verdict_another_node_stored(server: LiveServer, team: TeamClient) -> None:
    call_id = _queued_call(team)
    _attempt_on(server, call_id, providerCallId=LEG, status="inProgress")

    async def scenario() -> AnswerHint | None:
        detection = LateDetection()
        watch = asyncio.ensure_future(
            watch_stored_verdict(server.db, call_id, LEG, detection, wait_seconds=GUARD, poll_seconds=0.05)
        )
        await asyncio.sleep(0.2)  # the watch is polling and has found nothing yet
        assert detection.hint is None and not watch.done()
        async with server.db.transaction() as session:  # what the callback handler of another node writes
            call = await lock_call(session, call_id)
            assert call is not None
            update_attempt(call, 0, answeredBy="machine", answeredByDetail="machine_end_beep")
        await asyncio.wait_for(watch, GUARD)
        return detection.hint

    assert server.run(scenario()) == AnswerHint(Answerer.VOICEMAIL, greeting_ended=True)


def test_the_watch_stops_at_an_undecided_verdict_or_when_time_is_up(server: LiveServer, team: TeamClient) -> None:
    undecided = _queued_call(team)
    _attempt_on(server, undecided, providerCallId=LEG, answeredBy="unknown", answeredByDetail="unknown")
    silent = _queued_call(team)
    _attempt_on(server, silent, providerCallId=LEG)

    async def scenario(call_id: str, wait: float) -> AnswerHint | None:
        detection = LateDetection()
        await asyncio.wait_for(watch_stored_verdict(server.db, call_id, LEG, detection, wait_seconds=wait), GUARD)
        return detection.hint

    assert server.run(scenario(undecided, GUARD)) is None  # returns at once: detection has spoken, it could not tell
    assert server.run(scenario(silent, 0.3)) is None


def test_a_verdict_reported_in_process_ends_the_watch(server: LiveServer, team: TeamClient) -> None:
    call_id = _queued_call(team)
    _attempt_on(server, call_id, providerCallId=LEG)

    async def scenario() -> AnswerHint | None:
        detection = LateDetection()
        watch = asyncio.ensure_future(watch_stored_verdict(server.db, call_id, LEG, detection, wait_seconds=GUARD))
        await asyncio.sleep(0.1)
        detection.report(AnswerHint(Answerer.HUMAN))  # the callback landed on this node
        await asyncio.wait_for(watch, GUARD)
        return detection.hint

    assert server.run(scenario()) == AnswerHint(Answerer.HUMAN)
