"""The conversational voice agent: one Pipecat pipeline per answered call, driven by the template's brain.

```
callee audio → Silero VAD + speech-timeout turn end → Whisper (shared model) → brain (scripted, or LLM)
             → Piper (out-of-process HTTP server) → the line; barge-in clears the provider's buffer
```

Turn end: a fixed 0.6 s speech timeout after Silero's 0.2 s stop rather than Smart Turn, which on 8 kHz phone
speech judged complete questions unfinished and fell back to its 3 s timeout (reference: pipecat-notes.md); the
timeout gives steady replies. Who speaks when, and what happens when a machine answers, is
:mod:`.brain_processor`'s part; a tap after the input (:class:`~.pipecat_io.BeepListener`) hears voicemail beeps.
The opening is synthesized while the agent still listens for the callee's hello (:mod:`.speech_cache`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import httpx
import structlog
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.transcriptions.language import Language
from pipecat.transports.base_transport import TransportParams
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from opencaller.agent.answerer import Answerer, AnswerHint
from opencaller.agent.brain import Brain
from opencaller.agent.brain_processor import BrainProcessor
from opencaller.agent.channel import (
    AgentOutcome,
    AudioInbox,
    CallScript,
    LateDetection,
    MediaChannel,
    Turn,
    TurnListener,
    TurnLog,
)
from opencaller.agent.llm_brain import LlmBrain, LlmDefaults
from opencaller.agent.pipecat_io import (
    BeepListener,
    ChannelInputTransport,
    ChannelOutputTransport,
    HeardRecorder,
    SharedWhisperSTTService,
)
from opencaller.agent.scripted import Reply, ScriptedBrain
from opencaller.agent.speech_cache import CachedPiperSpeech, SpeechCache
from opencaller.agent.turn_end import AnswerAwareTurnStop, AnswerCheck
from opencaller.agent.voice_models import PiperServer, WhisperModelHolder
from opencaller.audio import TELEPHONE_RATE, silence
from opencaller.domain import templates
from opencaller.domain.status import StatusCode

log = structlog.get_logger(__name__)

HANGUP_GRACE_SECONDS = 4.0
"""After the callee hangs up, how long a last sentence may take to be understood (turn end + transcription)."""
GOODBYE_GRACE_SECONDS = 20.0
"""When the maximum duration is reached, how long the agent's short goodbye may take before the line is cut."""
VOICEMAIL_LINGER_SECONDS = 2.5
"""Silence left on a voicemail recording after the message, so hanging up never clips its last word."""
PIPER_RATE = 22050
"""The sample rate of the Piper voice's WAV answers (medium voices)."""
VAD_START_SECONDS = 0.1
"""Speech that starts a callee turn, and so barges in on the agent. With Pipecat's defaults (0.2 s, and the
volume gate below) the agent fell silent ~0.4 s after the callee started talking; a person expects under 0.3 s."""
VAD_MIN_VOLUME = 0.3
"""Silero's loudness gate (0..1, from -110 to -10 LUFS, smoothed). Pipecat's 0.6 took ~0.2 s to open after
silence because the smoothing ramps up slowly; 0.3 (about -80 LUFS) opens in ~0.1 s, and Silero's speech
confidence still keeps noise out."""
USER_SPEECH_TIMEOUT_SECONDS = 0.9
"""Silence that ends a callee turn (after Silero's 0.2 s): the callee's Piper voice pauses ~0.6 s at commas
("alex dot morgan, at example dot com"), and 0.6 s split such answers in two."""


@dataclass
class VoiceModels:
    """The process's shared speech engines (see :mod:`.voice_models`); :meth:`start` loads them, once."""

    whisper: WhisperModelHolder
    piper: PiperServer
    speech: SpeechCache = field(default_factory=SpeechCache)
    _session: aiohttp.ClientSession | None = None
    _llm_http: httpx.AsyncClient | None = None

    @classmethod
    def offline_defaults(cls) -> VoiceModels:
        """Whisper tiny.en and the Joe Piper voice from their wheels."""
        return cls(whisper=WhisperModelHolder(), piper=PiperServer())

    async def start(self) -> None:
        """Load Whisper and start the Piper server (both in parallel)."""
        await asyncio.gather(self.whisper.load(), self.piper.synthesize_url())
        if self._session is None:
            self._session = aiohttp.ClientSession()
        if self._llm_http is None:
            self._llm_http = httpx.AsyncClient()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session the TTS services share (to the loopback Piper server)."""
        if self._session is None:
            raise RuntimeError("VoiceModels.start() was not awaited")
        return self._session

    @property
    def llm_http(self) -> httpx.AsyncClient:
        """The HTTP client the LLM brains share (its pooled connections spare each turn a new handshake)."""
        if self._llm_http is None:
            raise RuntimeError("VoiceModels.start() was not awaited")
        return self._llm_http

    async def close(self) -> None:
        """Stop the Piper server and close the HTTP sessions."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._llm_http is not None:
            await self._llm_http.aclose()
            self._llm_http = None
        await self.piper.close()


class ConversationalAgent:
    """Runs one call's conversation with the template's brain (scripted or LLM) over the shared voice models."""

    def __init__(self, models: VoiceModels, llm: LlmDefaults | None = None) -> None:
        """``llm``: the server's chat API settings, for templates whose brain is ``llm``."""
        self.models = models
        self.llm = llm or LlmDefaults.builtin()

    async def run(
        self,
        channel: MediaChannel,
        inbox: AudioInbox,
        script: CallScript,
        local_now: Callable[[], datetime],
        *,
        on_turn: TurnListener | None = None,
        detection: LateDetection | None = None,
        end_line: Callable[[], Awaitable[None]] | None = None,
    ) -> AgentOutcome:
        """Talk until the brain says goodbye, a machine is dealt with, the callee hangs up, or time runs out.

        ``on_turn`` hears each transcript turn as it happens; ``detection`` brings answering-machine detection's
        verdict when it arrives after the audio started; ``end_line`` hangs up once the last words are heard, before
        the brain's after-call work (an LLM's extraction can take seconds nobody should wait on the line for).
        """
        await self.models.start()
        piper_url = await self.models.piper.synthesize_url()
        brain: Brain
        if isinstance(script.definition.brain, templates.LlmBrain):
            brain = LlmBrain.for_call(script, local_now, self.llm, self.models.llm_http)
        else:
            brain = ScriptedBrain(script.definition, script.first_message, local_now=local_now)
        # the opening (or the voicemail message) is synthesized while the agent listens for the hello
        opening = brain.opening()
        known = opening.say if isinstance(opening, Reply) else ""  # a model-written opening is not known yet
        ahead = script.voicemail_message if _machine(script.hint) else known
        prefetch = asyncio.ensure_future(self.models.speech.prefetch(ahead, piper_url, self.models.session))
        turns: list[Turn] = TurnLog(on_turn)
        beep_heard = asyncio.Event()
        processor = BrainProcessor(
            brain,
            turns,
            line_closed=channel.closed,
            beep_heard=beep_heard,
            voicemail_message=script.voicemail_message,
            hint=script.hint,
            detection=detection,
        )
        recorder = HeardRecorder(turns, line_closed=channel.closed)
        worker = self._worker(
            channel, inbox, processor, recorder, BeepListener(beep_heard), piper_url, brain.complete_answer
        )
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        running = asyncio.ensure_future(runner.run())
        closed = asyncio.ensure_future(channel.closed.wait())
        try:
            limit = script.definition.max_duration_seconds
            await asyncio.wait({running, closed}, timeout=limit, return_when="FIRST_COMPLETED")
            if not running.done() and not closed.done():  # time is up: a short goodbye, then the line is cut
                await processor.out_of_time()
                await asyncio.wait({running, closed}, timeout=GOODBYE_GRACE_SECONDS, return_when="FIRST_COMPLETED")
            elif not running.done():  # the callee hung up: let a last sentence be understood
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(processor.ended.wait(), HANGUP_GRACE_SECONDS)
        finally:
            closed.cancel()
            prefetch.cancel()
            if not running.done():
                await runner.cancel()
            await asyncio.gather(running, closed, prefetch, return_exceptions=True)
        recorder.flush()
        if processor.ended.is_set() and not channel.closed.is_set():
            await channel.wait_played()  # a mark: the last words were heard before the line is hung up
            voicemail = StatusCode.VOICEMAIL_DETECTED.value
            if processor.status_code == voicemail or (brain.finished and brain.result.status_code == voicemail):
                await channel.play(silence(VOICEMAIL_LINGER_SECONDS))  # the recording keeps the last word
                await channel.wait_played()
        if end_line is not None and not channel.closed.is_set():
            await end_line()
        turns.sort(key=lambda t: t.started_at)
        result = await brain.conclude(turns)
        code = processor.status_code
        if code is None:
            code = result.status_code if brain.finished else StatusCode.HUNG_UP_BY_HUMAN.value
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
        beep: BeepListener,
        piper_url: str,
        complete: AnswerCheck | None = None,
    ) -> PipelineWorker:
        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True, audio_out_sample_rate=TELEPHONE_RATE)
        stt = SharedWhisperSTTService(
            self.models.whisper.model,
            settings=SharedWhisperSTTService.Settings(language=Language.EN, no_speech_prob=0.6),
        )
        tts = CachedPiperSpeech(
            self.models.speech, base_url=piper_url, session=self.models.session, sample_rate=PIPER_RATE
        )
        vad = SileroVADAnalyzer(
            params=VADParams(start_secs=VAD_START_SECONDS, stop_secs=0.2, min_volume=VAD_MIN_VOLUME)
        )
        strategies = UserTurnStrategies(
            stop=[AnswerAwareTurnStop(user_speech_timeout=USER_SPEECH_TIMEOUT_SECONDS, complete=complete)]
        )
        user_agg, assistant_agg = LLMContextAggregatorPair(
            LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=vad, user_turn_strategies=strategies)
        )
        pipeline = Pipeline(
            [
                ChannelInputTransport(inbox, params),
                beep,
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


def _machine(hint: AnswerHint | None) -> bool:
    return hint is not None and hint.answerer == Answerer.VOICEMAIL
