"""The engine around the conversational agent, on real calls through the simulator: the live transcript (turns
stored as the agent reports them, replaced by the outcome's final list at the end) and asynchronous
answering-machine detection's verdict handed to the running agent.

The conversation itself is the agent's business and has its own tests (test_agent_conversations.py); here a
stand-in takes the agent's place behind the same ``run`` interface, so the test decides when the call may end and
can look at the transcript while the call is live."""

from __future__ import annotations

import asyncio
import io
import threading
import wave
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from opencaller.agent.answerer import Answerer, AnswerHint
from opencaller.agent.channel import AgentOutcome, AudioInbox, CallScript, LateDetection, MediaChannel, Turn
from opencaller.engine.calls_runtime import CallRuntime
from tests.e2e.conftest import wait_for_end, wait_until
from tests.e2e.test_recordings import assert_holds_both_sides
from tests.support import LiveServer, TeamClient, running_server

LIVE_GREETING = "Hi John, this is the stand-in agent, and this sentence was cut short"
HEARD_GREETING = "Hi John, this is the stand-in agent"
GUARD_SECONDS = 120.0
"""Upper bound for waiting on the call machinery; a guard against hangs, never an assertion about speed."""


def _burst(seconds: float) -> npt.NDArray[np.int16]:
    """Noise: unlike a tone it matches itself at one place only, so the recording test can tell where it played."""
    samples = np.random.default_rng(round(seconds * 1000)).normal(0, 3000, round(seconds * 8000))
    return np.clip(samples, -32768, 32767).astype(np.int16)


@dataclass
class StandInAgent:
    """Plays a greeting, waits for detection's verdict, reports two turns live and (if told to) waits for the test;
    then returns a final transcript whose agent turn is shorter, as a barge-in trims it."""

    hold: bool = True
    reported: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    script_hints: list[AnswerHint | None] = field(default_factory=list)
    late_hints: list[AnswerHint] = field(default_factory=list)

    async def run(
        self,
        channel: MediaChannel,
        inbox: AudioInbox,
        script: CallScript,
        local_now: Callable[[], datetime],
        *,
        on_turn: Callable[[Turn], None] | None = None,
        detection: LateDetection | None = None,
        end_line: Callable[[], Awaitable[None]] | None = None,
    ) -> AgentOutcome:
        assert on_turn is not None, "the engine passes a live-transcript listener"
        assert detection is not None, "the template leaves a voicemail message, so detection is on"
        started = datetime.now(UTC)
        self.script_hints.append(script.hint)
        await channel.play(_burst(1.0))
        hint = await asyncio.wait_for(detection.wait(), GUARD_SECONDS)
        self.late_hints.append(hint)
        machine = hint.answerer == Answerer.VOICEMAIL
        said = datetime.now(UTC)
        on_turn(Turn("agent", LIVE_GREETING, started, said))
        on_turn(Turn("human", "Hello, this is Alex.", said, datetime.now(UTC)))
        self.reported.set()
        if self.hold:
            await asyncio.to_thread(self.release.wait, GUARD_SECONDS)
        await channel.play(_burst(0.5))
        await channel.wait_played()
        ended = datetime.now(UTC)
        attempt = len(self.late_hints)
        turns = [Turn("agent", HEARD_GREETING if not machine else f"Message, attempt {attempt}", started, ended)]
        if not machine:
            turns.append(Turn("human", "Hello, this is Alex.", said, ended))
        return AgentOutcome(turns=turns, status_code="VOICEMAIL_DETECTED" if machine else "ENDED_NORMALLY")


@pytest.fixture(scope="module")
def stand_in_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A calling node whose agent is replaced per test; detection verdicts reach it only in-process."""
    tmp = tmp_path_factory.mktemp(f"stand-in-{backend}")
    settings = {"ring_timeout_seconds": 5, "webhook_worker_enabled": False, "agent": "minimal"}
    with running_server(backend, tmp, **settings) as live:
        runtime: CallRuntime = live.app.state.services.calls
        runtime.detection_wait_seconds = 0  # no database watch: this node receives every callback itself
        yield live


def _use(server: LiveServer, agent: StandInAgent) -> StandInAgent:
    runtime: CallRuntime = server.app.state.services.calls
    runtime.voice_agent = agent  # type: ignore[assignment]
    return agent


@pytest.fixture
def team(stand_in_server: LiveServer) -> TeamClient:
    return stand_in_server.new_caller_team("Live")


def _dial(team: TeamClient, number: str, **fields: Any) -> str:
    template = team.add_template(
        firstMessage="Hi {{customer_name}}.", voicemailMessage="Please call us back.", **fields.pop("template", {})
    )
    call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], toPhoneNumber=number, **fields)))
    return str(call["_id"])


def _transcript(team: TeamClient, call_id: str) -> list[str]:
    return [t["text"] for t in team.data(team.get("/v1/transcripts", params={"phoneCallId": call_id}))]


def test_turns_show_while_the_call_is_live_and_the_final_list_wins(
    stand_in_server: LiveServer, team: TeamClient
) -> None:
    agent = _use(stand_in_server, StandInAgent())
    call_id = _dial(team, "+12025550100")
    try:
        assert agent.reported.wait(GUARD_SECONDS), "the agent never reported its turns"

        live = wait_until(lambda: _transcript(team, call_id) if len(_transcript(team, call_id)) == 2 else None, "turns")

        assert live == [LIVE_GREETING, "Hello, this is Alex."]
        assert team.data(team.get(f"/v1/phoneCalls/{call_id}"))["status"] == "inProgress"  # the agent is still on
    finally:
        agent.release.set()
    call = wait_for_end(team, call_id, timeout=GUARD_SECONDS)

    assert call["statusExtraInfo"] == {"statusCode": "ENDED_NORMALLY"}
    assert _transcript(team, call_id) == [HEARD_GREETING, "Hello, this is Alex."]  # the trimmed final list
    # detection ran asynchronously: nothing was known when the audio started, the verdict came to the live agent
    assert agent.script_hints == [None]
    assert agent.late_hints == [AnswerHint(Answerer.HUMAN)]
    assert [attempt["answeredBy"] for attempt in call["attempts"]] == ["human"]


def test_a_voicemail_retry_keeps_each_attempts_final_turns_and_the_latest_recording(
    stand_in_server: LiveServer, team: TeamClient
) -> None:
    agent = _use(stand_in_server, StandInAgent(hold=False))
    retry = {"maxAttempts": 2, "retryOn": ["voicemail"], "delaysMinutes": [0]}

    call_id = _dial(team, "+12025550103", record=True, template={"retryPolicy": retry})
    call = wait_for_end(team, call_id, timeout=GUARD_SECONDS)

    assert len(call["attempts"]) == 2
    assert [attempt["answeredBy"] for attempt in call["attempts"]] == ["machine", "machine"]
    assert agent.late_hints == [AnswerHint(Answerer.VOICEMAIL, greeting_ended=True)] * 2
    assert _transcript(team, call_id) == ["Message, attempt 1", "Message, attempt 2"]
    recording = httpx.get(call["recordingUrl"])
    assert recording.status_code == 200
    with wave.open(io.BytesIO(recording.content)) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert_holds_both_sides(stand_in_server, call, audio, attempt=1)
