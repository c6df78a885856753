"""The brain's place in the Pipecat pipeline: who speaks when, and what to do when a machine answers.

:class:`BrainProcessor` reads each completed callee turn and speaks the brain's reply (:mod:`.brain`): the scripted
brain's whole text, or an LLM's reply piece by piece as it is written. Around the brain it owns the call's timing:

* the opening: the moment the call is answered (its audio is synthesized ahead), unless detection already said
  "machine". A person says "Hello?" as they pick up, over the opening: speech that starts within
  :data:`PICKUP_HELLO_SECONDS` of the answer is that hello, so it neither interrupts the opening nor gets a reply
  (unless it already asks not to be called); speech after it, or a "hello" longer than
  :data:`HELLO_MAX_SECONDS` (a machine's greeting), barges in as usual;
* machines: the first callee turns go through :func:`~.answerer.classify_first_words`, and asynchronous
  answering-machine detection may report later (:class:`~.channel.LateDetection`); a phone menu ends the call
  (``IVR_DETECTED``), a voicemail greeting stops the opening and makes the agent wait for the beep (or the greeting
  to fall silent) and leave the template's voicemail message (``VOICEMAIL_DETECTED``);
* silence: when the callee says nothing for :data:`SILENCE_PROMPT_SECONDS` after the agent spoke, the brain asks
  whether they are still there, then says goodbye;
* nothing is said once the line has closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from opencaller.agent.answerer import Answerer, AnswerHint, classify_first_words
from opencaller.agent.brain import Brain, Speech, StreamedReply
from opencaller.agent.channel import LateDetection, Turn
from opencaller.agent.scripted import Reply
from opencaller.domain.clock import utc_now
from opencaller.domain.status import StatusCode

log = structlog.get_logger(__name__)

PICKUP_HELLO_SECONDS = 1.5
"""Callee speech that starts this soon after the answer, or after the agent's first sound when that came later
(a cold speech cache, a loaded machine), is the "Hello?" of picking up, not an interruption."""
HELLO_PAUSE_SECONDS = 0.4
"""Speech that resumes this soon after Silero's stop (itself 0.2 s after the last word) continues the same hello:
"Hello, this is Alex." pauses about 0.35 s at its comma."""
HELLO_MAX_SECONDS = 2.0
"""A pick-up "hello" that goes on longer than this is a machine's greeting or a person talking over the agent:
it interrupts the opening after all."""
CLASSIFIED_TURNS = 3
"""How many of the callee's first turns are checked for a voicemail greeting or a phone menu."""
GREETING_END_SILENCE_SECONDS = 2.5
"""A voicemail greeting that falls this silent without a beep has ended: the message starts."""
VOICEMAIL_MAX_WAIT_SECONDS = 30.0
"""The longest the agent waits for a voicemail greeting to end before it speaks anyway."""
SILENCE_PROMPT_SECONDS = 8.0
"""Silence after the agent spoke before it asks "Are you still there?" (and, the next time, says goodbye)."""


class BrainProcessor(FrameProcessor):
    """Speaks the brain's replies to completed callee turns; handles the opening, machines and silences."""

    def __init__(
        self,
        brain: Brain,
        turns: list[Turn],
        *,
        line_closed: asyncio.Event,
        beep_heard: asyncio.Event,
        voicemail_message: str = "",
        hint: AnswerHint | None = None,
        detection: LateDetection | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._brain = brain
        self._turns = turns
        self._line_closed = line_closed
        self._beep_heard = beep_heard
        self._voicemail_message = voicemail_message.strip()
        self._replying = False
        """True while a streamed reply is still being written and spoken."""
        self._hint = hint
        self._detection = detection
        self._opened = False
        self._answered_at = time.monotonic()
        self._first_sound_at: float | None = None
        self._opening_playing = False
        """True from the opening's first word until it has been played or interrupted."""
        self._hello_speech = False
        """True while the callee's pick-up "hello" sounds over the opening (its interruption is held back)."""
        self._hello_turn = False
        """True while the callee's current turn is the pick-up hello."""
        self._hello_started_at: float | None = None
        self._hello_paused_at = 0.0
        self._hello_timer: asyncio.Task[None] | None = None
        self._detection_task: asyncio.Task[None] | None = None
        self._classify_left = CLASSIFIED_TURNS
        self._timer: asyncio.Task[None] | None = None
        self._voicemail: asyncio.Task[None] | None = None
        self._callee_speaking = False
        self._callee_quiet_since = time.monotonic()
        self.status_code: str | None = None
        """Set when the call ended for a reason of its own (a machine answered, time ran out)."""
        self.ended = asyncio.Event()
        """Set once the agent has said its last words (the pipeline then ends after playing them)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Answer each completed callee turn; run the opening, machine and silence timers."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            await self._on_start()
            return
        if isinstance(frame, LLMContextFrame):
            await self._on_user_turn(_last_user_text(frame.context))
            return
        if isinstance(frame, VADUserStartedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._on_speech_start()
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._on_speech_stop()
        elif isinstance(frame, InterruptionFrame) and direction == FrameDirection.DOWNSTREAM:
            if self._uninterruptible():
                return  # the pick-up hello does not cut the opening short, nor a late transcript a voicemail message
        elif isinstance(frame, BotStartedSpeakingFrame) and self._first_sound_at is None:
            self._first_sound_at = time.monotonic()
        elif isinstance(frame, BotStoppedSpeakingFrame) and self._opening_playing:
            self._opening_playing = False
        if isinstance(frame, UserStartedSpeakingFrame):
            self._callee_speaking = True
            self._hello_turn = self._hello_turn or self._hello_speech
            await self._stop_timer()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._callee_speaking = False
            self._callee_quiet_since = time.monotonic()
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM and self._waiting():
            await self._start_timer(SILENCE_PROMPT_SECONDS, self._on_silence)
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        """Stop the timers that may still run when the pipeline ends (the hello's, detection's wait)."""
        for task in (self._hello_timer, self._detection_task):
            if task is not None and not task.done():
                await self.cancel_task(task)
        await super().cleanup()  # type: ignore[no-untyped-call]

    def _uninterruptible(self) -> bool:
        """True while the callee's speech must not stop the agent: over the pick-up hello, and once a voicemail
        message is being left (a machine does not barge in; a greeting's last words transcribed late would)."""
        return self._hello_speech or self._voicemail is not None

    def _waiting(self) -> bool:
        """True when the agent has spoken and now waits for the callee to answer."""
        return self._opened and self._voicemail is None and not self.ended.is_set() and not self._callee_speaking

    # ---- timers ------------------------------------------------------------------------------------------------

    async def _start_timer(self, seconds: float, then: Any) -> None:
        await self._stop_timer()
        self._timer = self.create_task(self._after(seconds, then))

    async def _stop_timer(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            await self.cancel_task(self._timer)
        self._timer = None

    async def _after(self, seconds: float, then: Any) -> None:
        await asyncio.sleep(seconds)  # a timeout on silence: there is no event to await
        self._timer = None
        await then()

    # ---- the opening -------------------------------------------------------------------------------------------

    async def _on_start(self) -> None:
        self._answered_at = time.monotonic()
        if self._detection is not None:
            self._detection_task = self.create_task(self._await_detection())
        hint = self._hint
        if hint is not None and hint.answerer == Answerer.VOICEMAIL:
            self._start_voicemail(greeting_ended=hint.greeting_ended)
        else:
            await self._open()

    async def _open(self) -> None:
        if not self._opened and self._voicemail is None:
            self._opened = True
            self._opening_playing = True
            await self._say(self._brain.opening())

    async def _await_detection(self) -> None:
        """Asynchronous answering-machine detection reported: a machine stops the opening for the voicemail."""
        assert self._detection is not None
        hint = await self._detection.wait()
        log.info("answering-machine detection", answerer=hint.answerer.value)
        if hint.answerer == Answerer.VOICEMAIL and self._voicemail is None and not self.ended.is_set():
            await self._interrupt_agent()
            self._start_voicemail(greeting_ended=hint.greeting_ended)

    # ---- the pick-up hello -------------------------------------------------------------------------------------

    async def _on_speech_start(self) -> None:
        if not self._opening_playing:
            return
        now = time.monotonic()
        since = max(self._answered_at, self._first_sound_at or self._answered_at)
        if self._hello_started_at is None and now - since < PICKUP_HELLO_SECONDS:
            self._hello_started_at = now
            self._hello_speech = True
            self._hello_timer = self.create_task(self._hello_too_long())
        elif (
            self._hello_started_at is not None
            and now - self._hello_paused_at < HELLO_PAUSE_SECONDS
            and now - self._hello_started_at < HELLO_MAX_SECONDS
        ):
            self._hello_speech = True  # "Hello, [pause] this is Alex.": the same hello
        else:
            await self._interrupt_agent()  # speech after the hello: a barge-in, even within the hello's turn
            self._hello_turn = False

    async def _on_speech_stop(self) -> None:
        if self._hello_speech:
            self._hello_speech = False
            self._hello_paused_at = time.monotonic()

    async def _hello_too_long(self) -> None:
        await asyncio.sleep(HELLO_MAX_SECONDS)  # a timeout on continuing speech: there is no event to await
        self._hello_timer = None
        if self._hello_speech or time.monotonic() - self._hello_paused_at < HELLO_PAUSE_SECONDS:
            self._hello_turn = False  # still talking (or in a pause within it): a greeting this long is a machine's
            await self._interrupt_agent()

    async def _interrupt_agent(self) -> None:
        """Stop what the agent is saying now (the opening, when a machine or a long greeting is heard)."""
        self._opening_playing = False
        self._hello_speech = False
        await self.push_frame(InterruptionFrame())

    async def _on_user_turn(self, text: str) -> None:
        await self._stop_timer()
        if text:
            now = utc_now()
            self._turns.append(Turn(role="human", text=text, started_at=now, ended_at=now))
            log.info("callee said", text=text)
        if self.ended.is_set():
            return
        if text and self._classify_left > 0:
            self._classify_left -= 1
            answerer = classify_first_words(text)
            if answerer == Answerer.IVR:
                log.info("phone menu detected", text=text)
                await self._interrupt_agent()
                await self._finish(StatusCode.IVR_DETECTED, None)
                return
            if answerer == Answerer.VOICEMAIL:
                log.info("voicemail greeting detected", text=text)
                await self._interrupt_agent()
                self._start_voicemail(greeting_ended=False)
                return
        if self._voicemail is not None:
            return
        if self._hello_turn:
            self._hello_turn = False
            hello_reply = self._brain.hear_hello(text)
            if hello_reply is not None:
                await self._interrupt_agent()
                await self._say(hello_reply)
            return
        reply = self._brain.hear(text)
        if reply is not None:
            await self._say(reply)

    # ---- voicemail ----------------------------------------------------------------------------------------------

    def _start_voicemail(self, *, greeting_ended: bool) -> None:
        if self._voicemail is None and not self.ended.is_set():
            self._voicemail = self.create_task(self._leave_voicemail(greeting_ended))

    async def _leave_voicemail(self, greeting_ended: bool) -> None:
        """Wait for the beep, or for the greeting to fall silent, then leave the message and hang up."""
        await self._stop_timer()
        started = time.monotonic()
        while not greeting_ended and not self._beep_heard.is_set():
            try:
                await asyncio.wait_for(self._beep_heard.wait(), GREETING_END_SILENCE_SECONDS / 2)
            except TimeoutError:
                quiet = time.monotonic() - self._callee_quiet_since
                if not self._callee_speaking and quiet >= GREETING_END_SILENCE_SECONDS:
                    log.info("voicemail greeting ended without a beep")
                    break
                if time.monotonic() - started >= VOICEMAIL_MAX_WAIT_SECONDS:
                    break
        await self._finish(StatusCode.VOICEMAIL_DETECTED, self._voicemail_message or None)

    # ---- silence and time --------------------------------------------------------------------------------------

    async def _on_silence(self) -> None:
        if self._replying:
            return  # the model is still writing its reply: a pause between sentences is not the callee's silence
        reply = self._brain.on_silence()
        if reply is not None:
            await self._say(reply)

    async def out_of_time(self) -> None:
        """The call reached its maximum duration: say a short goodbye and end (``MAX_DURATION_REACHED``)."""
        if not self.ended.is_set():
            await self._stop_timer()
            self.status_code = StatusCode.MAX_DURATION_REACHED.value
            await self._say(self._brain.out_of_time())

    # ---- speaking ------------------------------------------------------------------------------------------------

    async def _finish(self, code: StatusCode, last_words: str | None) -> None:
        """End the call for a reason of the agent's own, after ``last_words`` (if any) are said."""
        if self.ended.is_set():
            return  # already ending (a menu detected while waiting for a beep keeps its verdict)
        self.status_code = code.value
        await self._say(Reply(last_words or "", end=True))

    async def _say(self, reply: Speech) -> None:
        if isinstance(reply, StreamedReply):
            if not self.ended.is_set():
                await self._say_streamed(reply)  # also once the line has closed: the model may act on the words
            return
        if self._line_closed.is_set() or self.ended.is_set():
            return  # the callee hung up: nobody is listening
        log.info("agent says", text=reply.say, end=reply.end)
        if reply.say:
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMTextFrame(reply.say))
            await self.push_frame(LLMFullResponseEndFrame())
        if reply.end:
            self.ended.set()
            await self._stop_timer()
            await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)

    async def _say_streamed(self, reply: StreamedReply) -> None:
        """Speak a reply while it is written: each piece goes on to TTS, which speaks every sentence as soon as it
        is complete. A barge-in cancels this task, which closes the stream (the model stops writing).

        When the callee has already hung up, the reply is still read to its end, unspoken: the model's tools may
        act on the last words ("never call me again", then a hang-up)."""
        said: list[str] = []
        self._replying = True
        try:
            async with contextlib.aclosing(reply.chunks) as chunks:
                await self.push_frame(LLMFullResponseStartFrame())
                async for chunk in chunks:
                    if self.ended.is_set():
                        break  # the time ran out and the goodbye is being said
                    said.append(chunk)
                    if not self._line_closed.is_set():
                        await self.push_frame(LLMTextFrame(chunk))
                await self.push_frame(LLMFullResponseEndFrame())
        finally:
            self._replying = False
        ends = reply.ends_call()
        log.info("agent said", text="".join(said).strip(), end=ends, line_closed=self._line_closed.is_set())
        if ends and not self.ended.is_set():
            self.ended.set()
            await self._stop_timer()
            await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)


def _last_user_text(context: LLMContext) -> str:
    for message in reversed(context.messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content.strip()
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict)).strip()
    return ""
