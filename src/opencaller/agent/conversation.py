"""The conversational voice agent: one Pipecat pipeline per answered call, driven by the scripted brain.

```
callee audio → Silero VAD + speech-timeout turn end → Whisper (shared model) → scripted brain
             → Piper (out-of-process HTTP server) → the line; barge-in clears the provider's buffer
```

Turn end: a fixed 0.6 s speech timeout after Silero's 0.2 s stop rather than Smart Turn, which on 8 kHz phone
speech judged complete questions unfinished and fell back to its 3 s timeout (reference: pipecat-notes.md); the
timeout gives steady replies. Who speaks first: on an outbound call the callee answers ("Hello?"), so the
agent greets after the callee's first turn, or after :data:`GREETING_WAIT_SECONDS` of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import structlog
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    UserStartedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transcriptions.language import Language
from pipecat.transports.base_transport import TransportParams
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from opencaller.agent.channel import AgentOutcome, AudioInbox, MediaChannel, Turn
from opencaller.agent.pipecat_io import (
    ChannelInputTransport,
    ChannelOutputTransport,
    HeardRecorder,
    SharedWhisperSTTService,
)
from opencaller.agent.piper_http import PiperHttpSpeech
from opencaller.agent.scripted import Reply, ScriptedBrain
from opencaller.agent.voice_models import PiperServer, WhisperModelHolder
from opencaller.audio import TELEPHONE_RATE
from opencaller.domain.clock import utc_now
from opencaller.domain.status import StatusCode
from opencaller.domain.templates import TemplateDefinition

log = structlog.get_logger(__name__)

FIRST_TURN_SETTLE_SECONDS = 0.8
"""Silence after the callee's first words before the agent greets: "Hello, this is ... Alex." often pauses at the
comma, and greeting into the pause would answer half a sentence and talk over the rest."""
GREETING_WAIT_SECONDS = 3.0
"""How long the agent waits for the callee to say hello before it greets anyway."""
HANGUP_GRACE_SECONDS = 4.0
"""After the callee hangs up, how long a last sentence may take to be understood (turn end + transcription)."""
PIPER_RATE = 22050
"""The sample rate of the Piper voice's WAV answers (medium voices)."""
USER_SPEECH_TIMEOUT_SECONDS = 0.9
"""Silence that ends a callee turn (after Silero's 0.2 s): the callee's Piper voice pauses ~0.6 s at commas
("alex dot morgan, at example dot com"), and 0.6 s split such answers in two."""


class BrainProcessor(FrameProcessor):
    """Plays the LLM's part in the pipeline: reads the callee's last turn, speaks the brain's reply."""

    def __init__(self, brain: ScriptedBrain, turns: list[Turn], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._brain = brain
        self._turns = turns
        self._opened = False
        self._first_words: list[str] = []
        self._greeting_timer: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        """Set once the brain has said its last words (the pipeline then ends after playing them)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Answer each completed user turn; greet after the callee's hello (or a moment of silence)."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._greeting_timer = self.create_task(self._greet_after_silence())
            return
        if isinstance(frame, UserStartedSpeakingFrame):
            await self._stop_greeting_timer()
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, LLMContextFrame):
            await self._on_user_turn(_last_user_text(frame.context))
            return
        await self.push_frame(frame, direction)

    async def _stop_greeting_timer(self) -> None:
        if self._greeting_timer is not None and self._greeting_timer is not asyncio.current_task():
            await self.cancel_task(self._greeting_timer)
        self._greeting_timer = None

    async def _greet_after_silence(self, seconds: float = GREETING_WAIT_SECONDS) -> None:
        await asyncio.sleep(seconds)  # a timeout on silence: there is no event to await
        self._greeting_timer = None
        if not self._opened:
            self._opened = True
            await self._say(self._brain.first_turn(" ".join(self._first_words)))

    async def _on_user_turn(self, text: str) -> None:
        await self._stop_greeting_timer()
        if text:
            now = utc_now()
            self._turns.append(Turn(role="human", text=text, started_at=now, ended_at=now))
            log.info("callee said", text=text)
        if self.ended.is_set():
            return
        if not self._opened:
            self._first_words.append(text)
            self._greeting_timer = self.create_task(self._greet_after_silence(FIRST_TURN_SETTLE_SECONDS))
            return
        reply = self._brain.hear(text)
        if reply is not None:
            await self._say(reply)

    async def _say(self, reply: Reply) -> None:
        log.info("agent says", text=reply.say, end=reply.end)
        await self.push_frame(LLMFullResponseStartFrame())
        await self.push_frame(LLMTextFrame(reply.say))
        await self.push_frame(LLMFullResponseEndFrame())
        if reply.end:
            self.ended.set()
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


@dataclass
class VoiceModels:
    """The process's shared speech engines (see :mod:`.voice_models`); :meth:`start` loads them, once."""

    whisper: WhisperModelHolder
    piper: PiperServer
    _session: aiohttp.ClientSession | None = None

    @classmethod
    def offline_defaults(cls) -> VoiceModels:
        """Whisper tiny.en and the Joe Piper voice from their wheels."""
        return cls(whisper=WhisperModelHolder(), piper=PiperServer())

    async def start(self) -> None:
        """Load Whisper and start the Piper server (both in parallel)."""
        await asyncio.gather(self.whisper.load(), self.piper.synthesize_url())
        if self._session is None:
            self._session = aiohttp.ClientSession()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session the TTS services share (to the loopback Piper server)."""
        if self._session is None:
            raise RuntimeError("VoiceModels.start() was not awaited")
        return self._session

    async def close(self) -> None:
        """Stop the Piper server and close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.piper.close()


class ConversationalAgent:
    """Runs one call's conversation with the scripted brain over the shared voice models."""

    def __init__(self, models: VoiceModels) -> None:
        self.models = models

    async def run(
        self,
        channel: MediaChannel,
        inbox: AudioInbox,
        definition: TemplateDefinition,
        first_message: str,
        local_now: Callable[[], datetime],
    ) -> AgentOutcome:
        """Talk until the brain says goodbye, the callee hangs up, or the template's maximum duration passes."""
        await self.models.start()
        brain = ScriptedBrain(definition, first_message, local_now=local_now)
        turns: list[Turn] = []
        processor = BrainProcessor(brain, turns)
        recorder = HeardRecorder(turns)
        worker = self._worker(channel, inbox, processor, recorder, await self.models.piper.synthesize_url())
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        running = asyncio.ensure_future(runner.run())
        closed = asyncio.ensure_future(channel.closed.wait())
        code: str | None = None
        try:
            await asyncio.wait(
                {running, closed}, timeout=definition.max_duration_seconds, return_when="FIRST_COMPLETED"
            )
            if not running.done() and not closed.done():
                code = StatusCode.MAX_DURATION_REACHED.value
            elif not running.done():  # the callee hung up: let a last sentence be understood
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(processor.ended.wait(), HANGUP_GRACE_SECONDS)
        finally:
            closed.cancel()
            if not running.done():
                await runner.cancel()
            await asyncio.gather(running, closed, return_exceptions=True)
        recorder.flush()
        if processor.ended.is_set() and not channel.closed.is_set():
            await channel.wait_played()  # a mark: the goodbye was heard before the line is hung up
        result = brain.snapshot()
        if code is None:
            code = result.status_code if brain.finished else StatusCode.HUNG_UP_BY_HUMAN.value
        turns.sort(key=lambda t: t.started_at)
        return AgentOutcome(
            turns=turns,
            status_code=code,
            result_values=result.result_values,
            tags=list(result.tags),
            call_later_at=result.call_later_at,
            do_not_call=result.do_not_call,
            meeting_at=result.meeting_at,
        )

    def _worker(
        self,
        channel: MediaChannel,
        inbox: AudioInbox,
        processor: BrainProcessor,
        recorder: HeardRecorder,
        piper_url: str,
    ) -> PipelineWorker:
        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True, audio_out_sample_rate=TELEPHONE_RATE)
        stt = SharedWhisperSTTService(
            self.models.whisper.model,
            settings=SharedWhisperSTTService.Settings(language=Language.EN, no_speech_prob=0.6),
        )
        tts = PiperHttpSpeech(base_url=piper_url, session=self.models.session, sample_rate=PIPER_RATE)
        vad = SileroVADAnalyzer(params=VADParams(stop_secs=0.2))
        strategies = UserTurnStrategies(
            stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=USER_SPEECH_TIMEOUT_SECONDS)]
        )
        user_agg, assistant_agg = LLMContextAggregatorPair(
            LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=vad, user_turn_strategies=strategies)
        )
        pipeline = Pipeline(
            [
                ChannelInputTransport(inbox, params),
                stt,
                user_agg,
                processor,
                tts,
                ChannelOutputTransport(channel, params),
                recorder,
                assistant_agg,
            ]
        )
        return PipelineWorker(
            pipeline,
            params=PipelineParams(
                audio_in_sample_rate=16000, audio_out_sample_rate=TELEPHONE_RATE, enable_metrics=True
            ),
            enable_rtvi=False,
        )
