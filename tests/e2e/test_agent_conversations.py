"""The conversational agent on real calls: Pipecat with offline Whisper and Piper, against the simulator's
callees (which speak with Piper and listen with Whisper themselves). Models load once for the session.

Besides conversations: voicemail boxes, phone menus, barge-in and callees who hang up at once, each checked
against what the simulated callee actually heard (its transcript and its recording of the line)."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from tests.e2e.conftest import wait_for_end
from tests.support import COOPERATIVE_CALLEE_COLUMNS, LiveServer, TeamClient, scripted_agent_server


@pytest.fixture(scope="session")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A calling node with the scripted conversational agent (models loaded once, at start)."""
    with scripted_agent_server(tmp_path_factory.mktemp("agent")) as live:
        yield live


@pytest.fixture
def team(agent_server: LiveServer) -> TeamClient:
    return agent_server.new_caller_team("Agent callers")


def _call(
    team: TeamClient, number: str, *, expect_transcript: bool = True, **template: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    created = team.add_template(
        **{
            "firstMessage": "Hi {{customer_name}}, this is Sam from Sunny Solar.",
            "resultColumns": COOPERATIVE_CALLEE_COLUMNS,
            **template,
        }
    )
    call = team.data(team.post("/v1/phoneCalls", team.call_body(created["_id"], toPhoneNumber=number)))
    final = wait_for_end(team, call["_id"], timeout=180)
    # a final status is only shown once the agent's transcript and outcome are stored, even when the callee
    # hung up before the agent had finished
    transcript = team.data(team.get("/v1/transcripts", params={"phoneCallId": call["_id"]}))
    if expect_transcript:
        assert transcript, "the call ended without its transcript"
    return final, transcript


def _simulated(server: LiveServer, call: dict[str, Any], attempt: int = 0) -> dict[str, Any]:
    """The simulator's record of one attempt of ``call``: its log, and the callee's transcript of the line."""
    sid = call["attempts"][attempt]["providerCallId"]
    record: dict[str, Any] = httpx.get(f"{_simulator_url(server)}/_simulator/calls/{sid}").json()
    return record


def _line_audio(server: LiveServer, call: dict[str, Any], track: str) -> npt.NDArray[np.int16]:
    """What the callee heard (``received``) or said (``sent``), recorded by the simulator on the call's 20 ms
    clock at 8 kHz: both tracks share that clock, so frame numbers line up."""
    sid = call["attempts"][0]["providerCallId"]
    data = httpx.get(f"{_simulator_url(server)}/_simulator/calls/{sid}/audio/{track}.wav").content
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getframerate() == 8000
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def _simulator_url(server: LiveServer) -> str:
    url = server.app.state.node_calls.simulator_url
    assert isinstance(url, str)
    return url


def _loud_frames(audio: npt.NDArray[np.int16], level: float = 300.0) -> npt.NDArray[np.bool_]:
    """Per 20 ms frame: whether it is louder than ``level`` (the simulator's own speech threshold)."""
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160).astype(np.float64)
    loud: npt.NDArray[np.bool_] = np.sqrt((frames**2).mean(axis=1)) > level
    return loud


def test_cooperative_callee_fills_every_result_column(team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550100", customTags=[{"name": "solar", "keywords": ["solar panels"]}])

    assert call["status"] == "completed"
    assert call["statusExtraInfo"]["statusCode"] == "ENDED_NORMALLY"
    values = {v["columnName"]: v["value"] for v in call["resultValues"]}
    assert values["name"].lower() == "alex morgan"
    assert values["city"].lower() == "new york"
    # Whisper tiny.en, hearing the callee's Piper voice over µ-law, sometimes writes "morgon": the spelling of the
    # name is the recognizer's; the agent's part is to turn "alex dot morgan at example dot com" into an address
    assert re.fullmatch(r"alex\.morg[a-z]n@example\.com", values["email"]), values["email"]
    assert "solar" in values["interest"].lower()
    assert values["followUp"] is True
    assert call["customTagsHitOnCall"] == ["solar"]
    roles = {t["role"] for t in transcript}
    assert roles == {"agent", "human"}
    assert "goodbye" in transcript[-1]["text"].lower() or "goodbye" in transcript[-2]["text"].lower()


def test_callee_busy_now_is_called_back_tomorrow_at_five(team: TeamClient) -> None:
    call, _ = _call(team, "+12025550106", callLater={"autoRedial": True})

    assert call["statusExtraInfo"]["statusCode"] == "CALL_LATER"
    when = datetime.fromisoformat(call["statusExtraInfo"]["dateTime"].replace("Z", "+00:00"))
    new_york = ZoneInfo("America/New_York")
    tomorrow = (datetime.now(UTC).astimezone(new_york) + timedelta(days=1)).date()
    assert when.astimezone(new_york).replace(tzinfo=None) == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 17)
    redials = team.data(team.get("/v1/phoneCalls", params={"toPhoneNumber": "+12025550106", "status": "queued"}))
    assert any(c["callDelayedUntil"] and c["_id"] != call["_id"] for c in redials)


def test_do_not_call_request_puts_the_number_on_the_list(team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550107")

    assert call["statusExtraInfo"]["statusCode"] == "DO_NOT_CALL"
    assert any("never call" in t["text"].lower() or "off your list" in t["text"].lower() for t in transcript)
    listed = team.data(team.get("/v1/doNotCall"))
    assert any(entry["number"] == "+12025550107" for entry in listed)


VOICEMAIL = "Hi {{customer_name}}, this is Sam from Sunny Solar. Please call us back when you can. Goodbye."


def test_voicemail_gets_the_message_after_the_beep_and_is_retried(agent_server: LiveServer, team: TeamClient) -> None:
    retry = {"maxAttempts": 2, "retryOn": ["voicemail"], "delaysMinutes": [0]}
    call, transcript = _call(team, "+12025550103", voicemailMessage=VOICEMAIL, retryPolicy=retry)

    assert call["status"] == "completed"
    assert call["statusExtraInfo"]["statusCode"] == "VOICEMAIL_DETECTED"
    assert len(call["attempts"]) == 2, "a voicemail attempt is dialled again when the retry policy says so"
    assert all(attempt["answeredBy"] == "machine" for attempt in call["attempts"])
    for attempt in (0, 1):
        heard = _simulated(agent_server, call, attempt)["transcript"]
        beep = next(e["at"] for e in heard if e["speaker"] == "callee" and e["text"] == "[beep]")
        # the agent greets the moment the line is answered; the machine's greeting then cuts the opening short
        # (detection, or the words heard): only the voicemail message itself comes after the beep
        messages = [e for e in heard if e["speaker"] == "agent" and e["at"] >= beep]
        assert len(messages) == 1, heard
        said = (messages[0]["text"] or "").lower()
        assert "call us back" in said and "john" in said, said  # rendered with the call's variables
        openings = [e for e in heard if e["speaker"] == "agent" and e["at"] < beep]
        assert all(e["speech_seconds"] < 4 for e in openings), f"the agent talked over the greeting: {openings}"
    left = [t["text"] for t in transcript if t["role"] == "agent" and "call us back" in t["text"]]
    assert left == ["Hi John, this is Sam from Sunny Solar. Please call us back when you can. Goodbye."] * 2


def test_phone_menu_stops_the_opening_and_is_hung_up_on(agent_server: LiveServer, team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550104")

    assert call["status"] == "completed"
    assert call["statusExtraInfo"]["statusCode"] == "IVR_DETECTED"
    menu = [t["text"].lower() for t in transcript if t["role"] == "human"]
    assert menu and ("press" in menu[0] or "calling" in menu[0]), transcript
    simulated = _simulated(agent_server, call)
    assert simulated["ended_by"] != "callee", "the agent, not the menu, ended the call"
    # the opening (about 4.5 s of speech) starts on the answer; a "hello" that goes on for seconds is a machine,
    # and the agent stops: it is cut short within about 2 s of the menu being heard
    heard = np.flatnonzero(_loud_frames(_line_audio(agent_server, call, "received")))
    talked = (heard.max() - heard.min() + 1) * 0.02 if heard.size else 0.0
    assert talked <= 3.0, f"the agent talked over the menu for {talked:.2f} s"


def test_barge_in_silences_the_agent_within_300_ms(agent_server: LiveServer, team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550109")

    simulated = _simulated(agent_server, call)
    barge = next(e for e in simulated["log"] if e["event"] == "callee-barges-in")
    assert barge
    assert simulated["stream_messages"].get("received:clear", 0) >= 1
    interrupting = next(e for e in simulated["transcript"] if e["text"] and e["text"].startswith("Sorry to cut"))
    # measured on the simulator's line clock: from the first loud frame the callee said in its interruption to
    # the last loud frame of the agent's audio the callee heard after it
    said = _loud_frames(_line_audio(agent_server, call, "sent"))
    heard = _loud_frames(_line_audio(agent_server, call, "received"))
    start = round(interrupting["at"] / 0.02)
    onset = start + int(np.argmax(said[start:]))
    assert heard[onset - 5 : onset].any(), "the agent was not talking when the callee cut in"
    quiet_for = 25  # half a second of silence: the agent stopped, not paused between words
    stop = next(i for i in range(onset, heard.size) if not heard[i : i + quiet_for].any())
    assert (stop - onset) * 0.02 <= 0.3, f"the agent kept talking {(stop - onset) * 0.02:.2f} s into the barge-in"
    assert any(t["role"] == "human" and "cut you off" in t["text"].lower() for t in transcript)


def test_callee_who_hangs_up_at_once_is_not_talked_to_after(agent_server: LiveServer, team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550108", expect_transcript=False)

    assert call["status"] == "completed"
    assert call["statusExtraInfo"]["statusCode"] == "HUNG_UP_BY_HUMAN"
    assert not [t for t in transcript if t["role"] == "agent"], transcript
    simulated = _simulated(agent_server, call)
    assert simulated["ended_by"] == "callee"
    assert not [e for e in simulated["transcript"] if e["speaker"] == "agent"]
    # the opening starts on the answer, so the callee may hear its first half second before hanging up, no more
    arrivals = httpx.get(f"{_simulator_url(agent_server)}/_simulator/calls/{simulated['sid']}/timing").json()
    assert max(arrivals["media_arrivals"], default=0.0) <= 0.6, "the agent kept sending audio after the hang-up"
