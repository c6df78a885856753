"""When the callee's turn is over: the usual pause, or sooner when what they said already answers the question.

A fixed speech timeout is the safe rule on the phone (the callee's pauses at commas are long), but it is dead time
whenever the answer is plainly complete: "Yes, I have a couple of minutes." needs no further 0.9 s of silence
before the agent replies. :class:`AnswerAwareTurnStop` keeps Pipecat's speech-timeout rule and adds one shortcut:
once the transcript is in and the brain says the words already answer what was asked, the turn ends as soon as
the callee has been quiet for :data:`EARLY_END_QUIET_SECONDS`, a pause longer than a comma's ("Yes, [pause] a
follow-up call is fine" must not be cut after "Yes"). Half an answer ("alex dot morgan," then a pause) is not
complete, so it still waits the full timeout for the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pipecat.frames.frames import Frame, TranscriptionFrame, VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import SpeechTimeoutUserTurnStopStrategy

AnswerCheck = Callable[[str], bool]
"""Given the turn's text so far, True when it is a complete answer to the current question."""

EARLY_END_QUIET_SECONDS = 0.3
"""Silence after Silero's stop (itself 0.2 s after the last word) before a complete answer ends the turn: the
callee's pauses at commas last about 0.35 s, so 0.5 s in all lets a sentence with a comma go on."""


class AnswerAwareTurnStop(SpeechTimeoutUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """The speech-timeout rule, cut short when the brain says the transcript is already a complete answer."""

    def __init__(self, *, user_speech_timeout: float, complete: AnswerCheck | None = None) -> None:
        super().__init__(user_speech_timeout=user_speech_timeout)
        self._complete = complete
        self._quiet_since = 0.0
        self._early_end: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Track when the callee fell quiet; new speech cancels a pending early end."""
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._cancel_early_end()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._quiet_since = time.monotonic()
        result: ProcessFrameResult = await super().process_frame(frame)
        return result

    async def handle_user_turn_stopped(self) -> None:
        """The turn ended (by either rule): nothing is pending any more."""
        await self._cancel_early_end()
        await super().handle_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def cleanup(self) -> None:
        """Stop a pending early end with the pipeline."""
        await self._cancel_early_end()
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def _handle_transcription(self, frame: TranscriptionFrame) -> None:
        await super()._handle_transcription(frame)
        if self._complete is None or self._vad_user_speaking or not self._vad_stopped or not self._text.strip():
            return
        if self._complete(self._text):
            await self._cancel_early_end()
            wait = EARLY_END_QUIET_SECONDS - (time.monotonic() - self._quiet_since)
            self._early_end = self.task_manager.create_task(self._end_early(wait), f"{self}::_end_early")

    async def _end_early(self, wait: float) -> None:
        if wait > 0:
            await asyncio.sleep(wait)  # a pause that must last: there is no event for "still quiet"
        self._early_end = None
        if not self._vad_user_speaking and self._text.strip():
            await self._cancel_all_tasks()  # type: ignore[no-untyped-call]
            await self.trigger_user_turn_stopped()

    async def _cancel_early_end(self) -> None:
        task, self._early_end = self._early_end, None
        if task is not None and task is not asyncio.current_task():
            await self.task_manager.cancel_task(task)
