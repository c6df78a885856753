"""The simulated person (or machine) at the far end of an answered call.

A :class:`Callee` is driven by the call's 20 ms audio clock (see :mod:`.line`): each tick it supplies the frame
it says (:meth:`Callee.next_frame`), is given the frame it hears (:meth:`Callee.hear`), and reports keys it
pressed or that it hung up (:meth:`Callee.take_actions`). What it says comes from its scenario:

* a person says its ``greeting``, then one of its ``lines`` each time the agent finishes a turn (the agent's
  audio goes quiet for ``reply_after_silence``), or a ``rules`` reply when its voice can transcribe; with
  ``interrupt_after`` it barges into the agent's first utterance;
* a voicemail says its greeting, beeps, then listens silently until ``max_message_seconds``;
* an IVR says its menu and answers in-band DTMF keys, repeating the menu when nobody presses anything.

Turn taking uses the level of the heard audio (no model needed), so it also works with placeholder audio.
Text-to-speech and transcription are delegated to a :class:`~.voice.CalleeVoice`, run by :meth:`Callee.run`
outside the clock so a slow voice never makes the clock stutter.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from opencaller.audio import PCM, rms, silence, tone

from .dtmf import KeyListener
from .scenarios import CalleeScenario
from .state import SimCall
from .voice import CalleeVoice

logger = logging.getLogger(__name__)

VOICE_ERRORS = (RuntimeError, OSError, ValueError)
"""Failures of a speech engine (a crashed Piper process, a model error) that cost one utterance, not the call."""

FRAME_SAMPLES = 160
"""Samples in one 20 ms frame at 8 kHz."""

FRAME_SECONDS = 0.02
"""Length of one frame of the call's audio clock."""

SPEECH_LEVEL = 300.0
"""RMS level (16-bit units) above which a heard frame counts as the agent talking."""

MIN_TURN_SECONDS = 0.2
"""Agent sound shorter than this (clicks, breaths) is not a turn."""

PRE_ROLL_FRAMES = 10
"""Quiet frames kept from just before the agent's turn crosses :data:`SPEECH_LEVEL`, so the soft onset of its
first word reaches speech recognition too."""

_SILENT_FRAME = np.zeros(FRAME_SAMPLES, dtype=np.int16)


async def prepare_opening(scenario: CalleeScenario, voice: CalleeVoice) -> None:
    """Synthesize what the callee says on answering while its phone still rings, as a person has their "Hello?"
    ready when they pick up; the voice keeps it, so the greeting starts on the first frame of the answer."""
    text: str | None
    if scenario.voicemail is not None:
        text = scenario.voicemail.greeting
    elif scenario.ivr is not None:
        text = scenario.ivr.greeting
    else:
        text = scenario.greeting
    if text and not voice.placeholder:
        try:
            await voice.synthesize(text)
        except VOICE_ERRORS as exc:  # the call goes on; the greeting is synthesized again on answer
            logger.warning("callee voice could not prepare %r: %s", text, exc)


@dataclass(frozen=True)
class _Segment:
    pcm: PCM
    text: str


@dataclass(frozen=True)
class _Marker:
    kind: str  # "greeting-done" | "hangup" | "ivr-arm"


@dataclass(frozen=True)
class _Utterance:
    text: str
    audio: PCM | None = None
    markers: tuple[str, ...] = ()


@dataclass(frozen=True)
class _AgentTurn:
    pcm: PCM
    entry: dict[str, object]
    reply: bool


@dataclass
class CalleeActions:
    """What the callee did this tick besides talking."""

    digits: list[str] = field(default_factory=list)
    hangup: bool = False


class Callee:
    """One answered call's far end, following its :class:`~.scenarios.CalleeScenario`."""

    def __init__(self, scenario: CalleeScenario, voice: CalleeVoice, call: SimCall) -> None:
        self._scenario = scenario
        self._voice = voice
        self._call = call
        self._frame = 0
        self._speech: deque[_Segment | _Marker] = deque()
        self._current: PCM | None = None
        self._position = 0
        self._work: asyncio.Queue[_Utterance | _AgentTurn] = asyncio.Queue()
        self._line_index = 0
        self._hangup = False
        self._keys_due = deque(sorted((round(press.at / FRAME_SECONDS), press.digits) for press in scenario.dtmf))
        self._hangup_frame = round(scenario.hangup_after / FRAME_SECONDS) if scenario.hangup_after is not None else None
        self._agent_active = False
        self._agent_start = 0
        self._agent_speech_frames = 0
        self._agent_silence_frames = 0
        self._agent_audio: list[PCM] = []
        self._pre_roll: deque[PCM] = deque(maxlen=PRE_ROLL_FRAMES)
        self._agent_turns = 0
        self._barged_in = False
        self._barged_this_turn = False
        self._key_listener = KeyListener() if scenario.ivr is not None else None
        self._ivr_deadline: int | None = None
        self._ivr_repeats = 0
        self.greeting_done = asyncio.Event()
        """Set once the callee's opening (greeting, or voicemail greeting and beep) has been played."""

    @property
    def seconds(self) -> float:
        """Seconds of call audio since the answer."""
        return round(self._frame * FRAME_SECONDS, 3)

    def start(self) -> None:
        """Queue what the callee says on answering."""
        scenario = self._scenario
        if scenario.voicemail is not None:
            vm = scenario.voicemail
            self._say(vm.greeting)
            beep = tone(vm.beep_hz, vm.beep_seconds, amplitude=0.4)
            self._work.put_nowait(_Utterance(text="[beep]", audio=beep, markers=("greeting-done",)))
        elif scenario.ivr is not None:
            self._say(scenario.ivr.greeting, "greeting-done", "ivr-arm")
        elif scenario.greeting:
            self._say(scenario.greeting, "greeting-done")
        else:
            self.greeting_done.set()

    def _say(self, text: str, *markers: str) -> None:
        self._work.put_nowait(_Utterance(text=text, markers=markers))

    # ---- the clock side -------------------------------------------------------------------------------------

    def next_frame(self) -> PCM:
        """The 20 ms frame the callee says now (silence when it is not talking)."""
        while self._current is None:
            if not self._speech:
                return _SILENT_FRAME
            item = self._speech.popleft()
            if isinstance(item, _Marker):
                self._on_marker(item.kind)
                continue
            self._current, self._position = item.pcm, 0
            self._call.transcript.append(
                {
                    "at": self.seconds,
                    "speaker": "callee",
                    "text": item.text,
                    "placeholder_audio": self._voice.placeholder and item.text != "[beep]",
                }
            )
        chunk = self._current[self._position : self._position + FRAME_SAMPLES]
        self._position += FRAME_SAMPLES
        if self._position >= self._current.size:
            self._current = None
        if chunk.size < FRAME_SAMPLES:
            chunk = np.concatenate([chunk, _SILENT_FRAME[: FRAME_SAMPLES - chunk.size]])
        return chunk

    def _on_marker(self, kind: str) -> None:
        if kind == "greeting-done":
            self.greeting_done.set()
            if self._scenario.voicemail is not None:
                limit = round(self._scenario.voicemail.max_message_seconds / FRAME_SECONDS)
                self._hangup_frame = min(self._hangup_frame or self._frame + limit, self._frame + limit)
        elif kind == "ivr-arm" and self._scenario.ivr is not None:
            self._ivr_deadline = self._frame + round(self._scenario.ivr.wait_seconds / FRAME_SECONDS)
        elif kind == "hangup":
            self._hangup = True

    @property
    def talking(self) -> bool:
        """True while the callee has something playing or queued to say."""
        return self._current is not None or bool(self._speech)

    def hear(self, frame: PCM) -> None:
        """Take the 20 ms frame the callee hears now, and advance the clock by one frame."""
        if self._key_listener is not None:
            key = self._key_listener.feed(frame)
            if key is not None:
                self._on_key(key)
        self._follow_agent(frame)
        self._frame += 1
        if self._hangup_frame is not None and self._frame >= self._hangup_frame:
            self._hangup = True
        if self._ivr_deadline is not None and self._frame >= self._ivr_deadline:
            self._ivr_deadline = None
            self._ivr_timeout()

    def _follow_agent(self, frame: PCM) -> None:
        loud = rms(frame) > SPEECH_LEVEL
        if loud:
            if not self._agent_active:
                self._agent_active, self._agent_start = True, self._frame
                self._agent_speech_frames, self._agent_audio = 0, list(self._pre_roll)
                self._pre_roll.clear()
                self._barged_this_turn = False
            self._agent_speech_frames += 1
            self._agent_silence_frames = 0
            self._agent_audio.append(frame)
            self._maybe_barge_in()
            return
        if not self._agent_active:
            self._pre_roll.append(frame)
            return
        self._agent_silence_frames += 1
        self._agent_audio.append(frame)
        if self._agent_silence_frames * FRAME_SECONDS >= self._scenario.reply_after_silence:
            self._agent_active = False
            if self._agent_speech_frames * FRAME_SECONDS >= MIN_TURN_SECONDS:
                self._end_agent_turn()

    def _maybe_barge_in(self) -> None:
        after = self._scenario.interrupt_after
        if after is None or self._barged_in or self._agent_turns > 0:
            return
        if (self._frame - self._agent_start) * FRAME_SECONDS >= after:
            self._barged_in = self._barged_this_turn = True
            self._call.note("callee-barges-in", at=self.seconds)
            self._queue_next_line()

    def _end_agent_turn(self) -> None:
        self._agent_turns += 1
        speech_seconds = round(self._agent_speech_frames * FRAME_SECONDS, 2)
        entry: dict[str, object] = {
            "at": round(self._agent_start * FRAME_SECONDS, 3),
            "speaker": "agent",
            "text": None,
            "speech_seconds": speech_seconds,
        }
        self._call.transcript.append(entry)
        converses = self._scenario.voicemail is None and self._scenario.ivr is None
        reply = converses and not self._barged_this_turn
        self._work.put_nowait(_AgentTurn(pcm=np.concatenate(self._agent_audio), entry=entry, reply=reply))

    def _on_key(self, key: str) -> None:
        ivr = self._scenario.ivr
        assert ivr is not None
        self._call.transcript.append({"at": self.seconds, "speaker": "agent", "text": f"[key {key}]"})
        self._ivr_deadline = None
        option = ivr.options.get(key)
        if option is None:
            self._say("Sorry, that is not a valid option.")
            self._say(ivr.greeting, "ivr-arm")
        else:
            self._call.note("ivr-option", key=key)
            self._say(option)

    def _ivr_timeout(self) -> None:
        ivr = self._scenario.ivr
        assert ivr is not None
        if self._ivr_repeats < ivr.repeat:
            self._ivr_repeats += 1
            self._say(ivr.greeting, "ivr-arm")
        else:
            self._say("Goodbye.", "hangup")

    def _queue_next_line(self) -> bool:
        lines = self._scenario.lines
        if self._line_index >= len(lines):
            return False
        text = lines[self._line_index]
        self._line_index += 1
        last = self._line_index == len(lines)
        if last and self._scenario.hangup_after_last_line:
            self._say(text, "hangup")
        else:
            self._say(text)
        return True

    def take_actions(self) -> CalleeActions:
        """Keys pressed and whether the callee hung up, as of the current tick."""
        actions = CalleeActions(hangup=self._hangup)
        while self._keys_due and self._keys_due[0][0] <= self._frame:
            _, digits = self._keys_due.popleft()
            actions.digits.extend(digits)
            self._call.transcript.append({"at": self.seconds, "speaker": "callee", "text": f"[pressed {digits}]"})
        return actions

    # ---- the voice side ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Synthesize what the callee says and make sense of what it heard, in order, until cancelled."""
        while True:
            item = await self._work.get()
            if isinstance(item, _Utterance):
                audio = item.audio if item.audio is not None else await self._synthesize(item.text)
                self._speech.append(_Segment(pcm=audio, text=item.text))
                self._speech.extend(_Marker(kind) for kind in item.markers)
            else:
                await self._answer(item)

    async def _synthesize(self, text: str) -> PCM:
        """The voice's audio for ``text``; a moment of silence (and a ``voice-error`` log entry) if it fails."""
        try:
            return await self._voice.synthesize(text)
        except VOICE_ERRORS as exc:
            logger.warning("callee voice could not say %r: %s", text, exc)
            self._call.note("voice-error", action="synthesize", error=f"{type(exc).__name__}: {exc}")
            return silence(0.2)

    async def _transcribe(self, pcm: PCM) -> str | None:
        """What the voice understood of ``pcm``; None (then the ordered lines are used) if it fails."""
        try:
            return await self._voice.transcribe(pcm)
        except VOICE_ERRORS as exc:
            logger.warning("callee voice could not transcribe: %s", exc)
            self._call.note("voice-error", action="transcribe", error=f"{type(exc).__name__}: {exc}")
            return None

    async def _answer(self, turn: _AgentTurn) -> None:
        heard = await self._transcribe(turn.pcm)
        if heard is not None:
            turn.entry["text"] = heard
        if not turn.reply:
            return
        rule = self._scenario.reply_to(heard) if heard else None
        if rule is not None:
            self._say(rule.say, *(("hangup",) if rule.hangup else ()))
        else:
            self._queue_next_line()
