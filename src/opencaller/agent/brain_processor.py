"""The brain's place in the Pipecat pipeline: who speaks when, and what to do when a machine answers.

:class:`BrainProcessor` plays the LLM's part: it reads each completed callee turn and speaks the scripted brain's
reply. Around the brain it owns the call's timing:

* the opening: at once when answering-machine detection already said "human" (detection consumed the hello),
  else after the callee's hello settles, or after :data:`GREETING_WAIT_SECONDS` of silence;
* machines: the first callee turns go through :func:`~.answerer.classify_first_words`; a phone menu ends the
  call (``IVR_DETECTED``), a voicemail greeting makes the agent wait for the beep (or the greeting to fall
  silent) and leave the template's voicemail message (``VOICEMAIL_DETECTED``);
* silence: when the callee says nothing for :data:`SILENCE_PROMPT_SECONDS` after the agent spoke, the brain asks
  whether they are still there, then says goodbye;
* nothing is said once the line has closed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from opencaller.agent.answerer import Answerer, AnswerHint, classify_first_words
from opencaller.agent.channel import Turn
from opencaller.agent.scripted import Reply, ScriptedBrain
from opencaller.domain.clock import utc_now
from opencaller.domain.status import StatusCode

log = structlog.get_logger(__name__)

FIRST_TURN_SETTLE_SECONDS = 0.8
"""Silence after the callee's first words before the agent greets: "Hello, this is ... Alex." often pauses at the
comma, and greeting into the pause would answer half a sentence and talk over the rest."""
GREETING_WAIT_SECONDS = 3.0
"""How long the agent waits for the callee to say hello before it greets anyway."""
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
        brain: ScriptedBrain,
        turns: list[Turn],
        *,
        line_closed: asyncio.Event,
        beep_heard: asyncio.Event,
        voicemail_message: str = "",
        hint: AnswerHint | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._brain = brain
        self._turns = turns
        self._line_closed = line_closed
        self._beep_heard = beep_heard
        self._voicemail_message = voicemail_message.strip()
        self._hint = hint
        self._opened = False
        self._first_words: list[str] = []
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
        if isinstance(frame, UserStartedSpeakingFrame):
            self._callee_speaking = True
            await self._stop_timer()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._callee_speaking = False
            self._callee_quiet_since = time.monotonic()
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM and self._waiting():
            await self._start_timer(SILENCE_PROMPT_SECONDS, self._on_silence)
        await self.push_frame(frame, direction)

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
        hint = self._hint
        if hint is not None and hint.answerer == Answerer.HUMAN:
            await self._open()  # detection already heard the hello
        elif hint is not None and hint.answerer == Answerer.VOICEMAIL:
            self._start_voicemail(greeting_ended=hint.greeting_ended)
        else:
            await self._start_timer(GREETING_WAIT_SECONDS, self._open)

    async def _open(self) -> None:
        if not self._opened and self._voicemail is None:
            self._opened = True
            await self._say(self._brain.first_turn(" ".join(self._first_words)))

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
                await self._finish(StatusCode.IVR_DETECTED, None)
                return
            if answerer == Answerer.VOICEMAIL:
                log.info("voicemail greeting detected", text=text)
                self._start_voicemail(greeting_ended=False)
                return
        if self._voicemail is not None:
            return
        if not self._opened:
            self._first_words.append(text)
            await self._start_timer(FIRST_TURN_SETTLE_SECONDS, self._open)
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

    async def _say(self, reply: Reply) -> None:
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


def _last_user_text(context: LLMContext) -> str:
    for message in reversed(context.messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content.strip()
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict)).strip()
    return ""
