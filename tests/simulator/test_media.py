"""Media Streams as the platform sees them: message shapes, real-time frames, marks, clear, DTMF and talk."""

from __future__ import annotations

import base64
import re
import time

import numpy as np
import pytest

from opencaller.audio import read_wav, rms, tone, ulaw_decode, ulaw_encode
from opencaller.simulator import PlaceholderVoice
from opencaller.simulator.dtmf import dtmf_tone

from .conftest import ACCOUNT_SID, SCENARIOS, Harness, StreamPeer, running_harness

STREAM_SID = re.compile(r"^MZ[0-9a-f]{32}$")


def media_message(stream_sid: str, pcm: np.ndarray) -> dict[str, object]:
    """A platform → simulator ``media`` message carrying ``pcm`` as µ-law."""
    payload = base64.b64encode(ulaw_encode(pcm)).decode()
    return {"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}


async def start_stream(harness: Harness, to: str, **fields: str) -> tuple[dict[str, object], StreamPeer, str]:
    """Dial ``to`` and return the call, its stream peer, and the streamSid from ``start``."""
    call = await harness.dial_ok(to, **fields)
    stream = await harness.platform.next_stream()
    connected = await stream.receive()
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = await stream.receive()
    assert start is not None and start["event"] == "start"
    return call, stream, str(start["streamSid"])


async def count_media_until(stream: StreamPeer, event: str) -> tuple[int, dict[str, object]]:
    """Count inbound ``media`` messages until one of type ``event``; return the count and that message."""
    frames = 0
    while True:
        message = await stream.receive_event_any()
        if message["event"] == "media":
            frames += 1
        elif message["event"] == event:
            return frames, message


async def test_answered_call_streams_twilio_protocol_in_real_time(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550000")
    stream = await harness.platform.next_stream()
    handshake = harness.platform.stream_handshakes[-1]
    assert handshake["query"] == ""  # Twilio strips the query string from stream URLs
    assert handshake.get("x-twilio-signature")
    assert await stream.receive() == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = await stream.receive()
    assert start is not None
    assert start["event"] == "start"
    assert start["sequenceNumber"] == "1"
    assert STREAM_SID.match(start["streamSid"])
    assert start["start"] == {
        "accountSid": ACCOUNT_SID,
        "streamSid": start["streamSid"],
        "callSid": call["sid"],
        "tracks": ["inbound"],
        "customParameters": {"callToken": "tok-123"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    twiml_request = harness.platform.twiml_requests[-1]
    assert twiml_request["CallStatus"] == "in-progress"
    assert twiml_request["CallSid"] == call["sid"]

    frames = []
    began = time.monotonic()
    while len(frames) < 50:
        message = await stream.receive()
        assert message is not None
        assert message["event"] == "media"
        frames.append(message)
    elapsed = time.monotonic() - began
    for index, frame in enumerate(frames):
        assert frame["streamSid"] == start["streamSid"]
        assert frame["sequenceNumber"] == str(index + 2)
        assert frame["media"]["track"] == "inbound"
        assert frame["media"]["chunk"] == str(index + 1)
        assert frame["media"]["timestamp"] == str(index * 20)
        assert len(base64.b64decode(frame["media"]["payload"])) == 160
    # 50 frames are one second of audio: paced in real time, they cannot arrive faster than that.
    assert elapsed >= 49 * 0.02 - 0.05

    fetched = (await harness.rest.get(f"{harness.calls_path}/{call['sid']}.json")).json()
    assert fetched["status"] == "in-progress"
    assert fetched["start_time"] is not None

    assert (await harness.update(call["sid"], Status="completed")).status_code == 200
    stop = await stream.receive_event("stop")
    assert stop["streamSid"] == start["streamSid"]
    assert int(stop["sequenceNumber"]) > 51
    assert await stream.receive() is None  # the simulator closes the socket after stop
    final = await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["initiated", "ringing", "in-progress", "completed"]
    assert final["SipResponseCode"] == "200"
    assert int(final["CallDuration"]) >= 1
    sequence = sorted(int(c["SequenceNumber"]) for c in harness.platform.callbacks if c["CallSid"] == call["sid"])
    assert sequence == [0, 1, 2, 3]
    detail = await harness.detail(call["sid"])
    assert detail["ended_by"] == "api"


async def test_mark_is_echoed_after_its_audio_has_played(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550000")
    await stream.send({"event": "mark", "streamSid": sid, "mark": {"name": "empty"}})
    frames, mark = await count_media_until(stream, "mark")
    assert mark["mark"] == {"name": "empty"}  # nothing queued: echoed at once
    assert frames <= 5

    await stream.send(media_message(sid, tone(440, 1.0)))
    await stream.send({"event": "mark", "streamSid": sid, "mark": {"name": "one-second"}})
    frames, mark = await count_media_until(stream, "mark")
    assert mark["mark"] == {"name": "one-second"}
    assert mark["streamSid"] == sid
    assert frames >= 48  # the mark came back only after ~50 frames (one second) of playback

    await stream.close()
    await harness.platform.wait_final_status(call["sid"])
    detail = await harness.detail(call["sid"])
    heard = await harness.inspect.get(f"/_simulator/calls/{call['sid']}/audio/received.wav")
    assert heard.status_code == 200
    assert detail["stream_messages"]["received:media"] == 1
    assert detail["stream_messages"]["received:mark"] == 2
    assert detail["ended_by"] == "twiml-end"


async def test_clear_drops_queued_audio_and_echoes_pending_marks(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550000")
    await stream.send(media_message(sid, tone(440, 5.0)))
    await stream.send({"event": "mark", "streamSid": sid, "mark": {"name": "a"}})
    await stream.send(media_message(sid, tone(660, 5.0)))
    await stream.send({"event": "mark", "streamSid": sid, "mark": {"name": "b"}})
    await stream.send({"event": "clear", "streamSid": sid})
    names = []
    frames = 0
    while len(names) < 2:
        message = await stream.receive_event_any()
        if message["event"] == "mark":
            names.append(message["mark"]["name"])
        elif message["event"] == "media":
            frames += 1
    assert names == ["a", "b"]
    assert frames < 100  # well before the ten seconds of queued audio could have played
    await harness.update(call["sid"], Status="completed")
    await stream.receive_event("stop")
    await harness.platform.wait_final_status(call["sid"])
    response = await harness.inspect.get(f"/_simulator/calls/{call['sid']}/audio/received.wav")
    heard, _ = read_wav(response.content)
    loud = sum(1 for i in range(0, heard.size - 160, 160) if rms(heard[i : i + 160]) > 1000)
    assert loud < 5 * 50  # the callee heard only a sliver of the ten seconds before the clear


async def test_protocol_error_closes_the_stream(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550000")
    wav_payload = base64.b64encode(b"RIFF" + b"\x00" * 200).decode()
    await stream.send({"event": "media", "streamSid": sid, "media": {"payload": wav_payload}})
    while (await stream.receive()) is not None:
        pass
    await harness.platform.wait_final_status(call["sid"])
    detail = await harness.detail(call["sid"])
    assert any(entry["event"] == "stream-error" and entry["code"] == 31924 for entry in detail["log"])


async def test_callee_key_presses_arrive_as_dtmf(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550005")
    digits = []
    while len(digits) < 3:
        message = await stream.receive_event("dtmf")
        assert message["streamSid"] == sid
        assert message["dtmf"]["track"] == "inbound_track"
        digits.append(message["dtmf"]["digit"])
    assert digits == ["1", "2", "#"]
    await stream.close()
    await harness.platform.wait_final_status(call["sid"])


async def test_callee_answers_each_agent_turn_with_its_next_line(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550007")
    # The callee opens with its greeting: audible audio arrives without the agent saying anything.
    await wait_for_callee_audio(stream)
    await wait_for_callee_silence(stream)
    await stream.send(media_message(sid, tone(500, 0.5)))  # the agent's turn, then silence
    await wait_for_callee_audio(stream)
    await wait_for_callee_silence(stream)
    await stream.send(media_message(sid, tone(500, 0.5)))
    await wait_for_callee_audio(stream)
    await stream.receive_event("stop")  # it hangs up after its last line
    await harness.platform.wait_final_status(call["sid"])
    detail = await harness.detail(call["sid"])
    callee_lines = [e["text"] for e in detail["transcript"] if e["speaker"] == "callee"]
    assert callee_lines == ["Hello?", "First line here.", "Second line."]
    assert all(e["placeholder_audio"] for e in detail["transcript"] if e["speaker"] == "callee")
    agent_turns = [e for e in detail["transcript"] if e["speaker"] == "agent"]
    assert len(agent_turns) == 2
    assert detail["ended_by"] == "callee"


async def test_interrupter_talks_over_the_agent(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550010")
    await stream.send(media_message(sid, tone(500, 3.0)))  # a long first sentence
    frames = 0
    while True:
        message = await stream.receive_event("media")
        frames += 1
        if rms(ulaw_decode(base64.b64decode(message["media"]["payload"]))) > 300:
            break
    assert frames < 150  # the callee spoke while the agent's three seconds were still playing
    await harness.update(call["sid"], Status="completed")
    await harness.platform.wait_final_status(call["sid"])
    detail = await harness.detail(call["sid"])
    assert any(entry["event"] == "callee-barges-in" for entry in detail["log"])


async def test_ivr_reacts_to_in_band_key_tones(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550009")
    await wait_for_callee_audio(stream)
    await wait_for_callee_silence(stream)
    await stream.send(media_message(sid, np.concatenate([dtmf_tone("1", 0.12), np.zeros(800, dtype=np.int16)])))
    await wait_for_callee_audio(stream)
    await harness.update(call["sid"], Status="completed")
    await harness.platform.wait_final_status(call["sid"])
    detail = await harness.detail(call["sid"])
    said = [e["text"] for e in detail["transcript"] if e["speaker"] == "callee"]
    assert said[:2] == ["Press one.", "Sales speaking."]
    assert {"speaker": "agent", "text": "[key 1]"}.items() <= next(
        e for e in detail["transcript"] if e["speaker"] == "agent"
    ).items()


async def wait_for_callee_audio(stream: StreamPeer) -> None:
    """Read media until a frame carries audible callee audio."""
    while True:
        message = await stream.receive_event("media")
        if rms(ulaw_decode(base64.b64decode(message["media"]["payload"]))) > 300:
            return


async def wait_for_callee_silence(stream: StreamPeer, frames: int = 10) -> None:
    """Read media until ``frames`` silent frames in a row (the callee stopped talking)."""
    quiet = 0
    while quiet < frames:
        message = await stream.receive_event("media")
        payload = ulaw_decode(base64.b64decode(message["media"]["payload"]))
        quiet = quiet + 1 if rms(payload) <= 300 else 0


@pytest.mark.parametrize("harness", ["builtin"], indirect=True)
async def test_builtin_cooperative_person_answers_and_greets(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+12025550100")
    await wait_for_callee_audio(stream)  # "Hello, this is Alex." (placeholder audio in phase 1)
    await harness.update(call["sid"], Status="completed")
    stop = await stream.receive_event("stop")
    assert stop["streamSid"] == sid
    final = await harness.platform.wait_final_status(call["sid"])
    assert final["CallStatus"] == "completed"
    detail = await harness.detail(call["sid"])
    assert detail["callee"] == "cooperative person"
    assert detail["transcript"][0]["text"] == "Hello, this is Alex."


class BrokenVoice(PlaceholderVoice):
    """A voice whose speech engine has crashed: every synthesis and transcription fails."""

    async def synthesize(self, text: str) -> np.ndarray:
        raise RuntimeError("speech engine is down")

    async def transcribe(self, pcm: np.ndarray) -> str | None:
        raise RuntimeError("speech engine is down")


async def test_a_failing_voice_costs_utterances_not_the_call() -> None:
    async with running_harness(SCENARIOS, voice=BrokenVoice()) as harness:
        call, stream, sid = await start_stream(harness, "+15005550007")
        two_turns = np.concatenate([tone(500, 0.5), np.zeros(4800, dtype=np.int16), tone(500, 0.5)])
        await stream.send(media_message(sid, two_turns))  # agent turns the callee cannot transcribe
        await stream.receive_event("stop")  # it still answers with its two lines (silently), then hangs up
        assert await stream.receive() is None
        final = await harness.platform.wait_final_status(call["sid"])
        assert final["CallStatus"] == "completed"
        detail = await harness.detail(call["sid"])
        errors = {entry["action"] for entry in detail["log"] if entry["event"] == "voice-error"}
        assert errors == {"synthesize", "transcribe"}
        assert detail["ended_by"] == "callee"
        assert [e["text"] for e in detail["transcript"] if e["speaker"] == "callee"][-1] == "Second line."
