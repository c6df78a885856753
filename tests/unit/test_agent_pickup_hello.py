"""The opening starts on the answer, and the callee's pick-up "Hello?" over it is not a barge-in.

The brain processor runs in a real Pipecat pipeline (no models: the frames the user aggregator would send are
sent directly) and what it passes downstream, to speech synthesis and the line, is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from opencaller.agent import brain_processor
from opencaller.agent.brain_processor import BrainProcessor
from opencaller.agent.channel import Turn
from opencaller.agent.scripted import ScriptedBrain
from opencaller.domain.templates import TemplateDefinition

NOW = datetime(2025, 3, 3, 11, 0, tzinfo=ZoneInfo("America/New_York"))


def _processor() -> BrainProcessor:
    definition = TemplateDefinition.model_validate(
        {"name": "Survey", "resultColumns": [{"columnName": "name", "question": "May I have your name?"}]}
    )
    brain = ScriptedBrain(definition, "Hi Alex, this is Sam.", local_now=lambda: NOW)
    turns: list[Turn] = []
    return BrainProcessor(brain, turns, line_closed=asyncio.Event(), beep_heard=asyncio.Event())


async def _downstream(frames: Sequence[Frame]) -> list[Frame]:
    down, _ = await run_test(_processor(), frames_to_send=frames)
    return list(down)


def _spoken(frames: list[Frame]) -> str:
    return " ".join(f.text for f in frames if isinstance(f, LLMTextFrame))


def _interruptions(frames: list[Frame]) -> int:
    return sum(isinstance(f, InterruptionFrame) for f in frames)


def test_the_opening_is_spoken_on_the_answer() -> None:
    down = asyncio.run(_downstream([]))
    assert _spoken(down) == "Hi Alex, this is Sam. May I have your name?"


def test_a_hello_at_pick_up_does_not_interrupt_the_opening() -> None:
    hello = [VADUserStartedSpeakingFrame(), InterruptionFrame(), SleepFrame(0.1), VADUserStoppedSpeakingFrame()]
    # "Hello, [pause] this is Alex.": a short pause keeps it the same hello
    rest = [SleepFrame(0.1), VADUserStartedSpeakingFrame(), SleepFrame(0.1), VADUserStoppedSpeakingFrame()]
    down = asyncio.run(_downstream([*hello, *rest]))
    assert _spoken(down).startswith("Hi Alex")
    assert _interruptions(down) == 0


def test_speech_after_the_hello_barges_in() -> None:
    hello = [VADUserStartedSpeakingFrame(), SleepFrame(0.1), VADUserStoppedSpeakingFrame()]
    later = [SleepFrame(brain_processor.HELLO_PAUSE_SECONDS + 0.2), VADUserStartedSpeakingFrame(), SleepFrame(0.05)]
    down = asyncio.run(_downstream([*hello, *later]))
    assert _interruptions(down) == 1


def test_a_hello_that_goes_on_is_a_machine_and_stops_the_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brain_processor, "HELLO_MAX_SECONDS", 0.3)
    down = asyncio.run(_downstream([VADUserStartedSpeakingFrame(), SleepFrame(0.6)]))
    assert _interruptions(down) == 1


def test_speech_well_after_the_answer_is_a_barge_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brain_processor, "PICKUP_HELLO_SECONDS", 0.2)
    down = asyncio.run(_downstream([SleepFrame(0.4), VADUserStartedSpeakingFrame(), SleepFrame(0.05)]))
    assert _interruptions(down) == 1
