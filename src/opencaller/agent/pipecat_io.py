"""Pipecat transports over opencaller's own media channel, plus the processors that share the loaded models.

The engine already owns the provider's media socket (it checks the one-time stream token and hangs up through
the provider adapter), so instead of Pipecat's WebSocket transport and Twilio serializer the pipeline reads the
callee's audio from an :class:`~opencaller.agent.channel.AudioInbox` and plays into a
:class:`~opencaller.agent.channel.MediaChannel`. Barge-in clears the provider's buffer through the channel
(Twilio ``clear``); marks tell when the last words were heard.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from opencaller.agent.beep import BeepDetector
from opencaller.agent.channel import AudioInbox, MediaChannel, Turn
from opencaller.audio import TELEPHONE_RATE
from opencaller.domain.clock import utc_now

PIPELINE_INPUT_RATE = 16000
"""The pipeline's input rate: Whisper needs 16 kHz (at 8 kHz it transcribes garbage), Silero accepts it."""

FRAME_SECONDS = 0.02
OUTPUT_LEAD_SECONDS = 0.1
"""How far ahead of real time audio is handed to the provider: enough to never starve, small enough that what
was sent is what was heard when the callee barges in."""


class ChannelInputTransport(BaseInputTransport):
    """Feeds the callee's 8 kHz audio into the pipeline at 16 kHz.

    When the line closes it keeps feeding silence in real time, so a sentence the callee said just before hanging
    up still ends its turn and reaches the brain.
    """

    def __init__(self, inbox: AudioInbox, params: TransportParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._inbox = inbox
        self._resampler = create_stream_resampler()
        self._feeding: asyncio.Task[None] | None = None

    async def start(self, frame: StartFrame) -> None:
        """Start the feed once the pipeline has started."""
        await super().start(frame)
        await self.set_transport_ready(frame)
        if self._feeding is None:
            self._feeding = self.create_task(self._feed())

    async def _stop_feed(self) -> None:
        if self._feeding is not None:
            await self.cancel_task(self._feeding)
            self._feeding = None

    async def stop(self, frame: Any) -> None:
        """Stop feeding (end of the pipeline)."""
        await super().stop(frame)
        await self._stop_feed()

    async def cancel(self, frame: Any) -> None:
        """Stop feeding (the pipeline was cancelled)."""
        await super().cancel(frame)
        await self._stop_feed()

    async def _feed(self) -> None:
        while True:
            pcm = await self._inbox.get()
            if pcm is None:
                break
            await self._push(pcm.tobytes())
        silence = bytes(int(TELEPHONE_RATE * FRAME_SECONDS) * 2)
        next_at = time.monotonic()
        while True:  # the hung-up line is silent; keep the clock going until the agent stops
            await self._push(silence)
            next_at += FRAME_SECONDS
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _push(self, audio: bytes) -> None:
        resampled = await self._resampler.resample(audio, TELEPHONE_RATE, PIPELINE_INPUT_RATE)
        if resampled:
            await self.push_audio_frame(
                InputAudioRawFrame(audio=resampled, sample_rate=PIPELINE_INPUT_RATE, num_channels=1)
            )


class ChannelOutputTransport(BaseOutputTransport):
    """Plays the pipeline's 8 kHz audio into the media channel at real-time pace, and clears it on barge-in."""

    def __init__(self, channel: MediaChannel, params: TransportParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._channel = channel
        self._next_send = 0.0

    async def start(self, frame: StartFrame) -> None:
        """Ready to play once the pipeline has started."""
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        """Hand one chunk to the provider, then wait until it is nearly due (the line plays in real time)."""
        if self._channel.closed.is_set():
            return False
        pcm = np.frombuffer(frame.audio, dtype=np.int16)
        await self._channel.play(pcm)
        now = time.monotonic()
        self._next_send = max(self._next_send, now) + pcm.size / TELEPHONE_RATE
        await asyncio.sleep(max(0.0, self._next_send - now - OUTPUT_LEAD_SECONDS))
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Besides the base behaviour, a barge-in drops what the provider still has buffered."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._next_send = 0.0
            await self._channel.clear()


class HeardRecorder(FrameProcessor):
    """Sits after the output transport and writes the agent's transcript turns from what was actually played.

    The output transport releases each sentence's ``TTSTextFrame`` once its audio has been played, and drops the
    ones still queued when the callee barges in, so this keeps exactly what the callee heard. Once the line has
    closed, the sentences still released (the output's audio went nowhere) were not heard and are not kept.
    """

    def __init__(self, turns: list[Turn], line_closed: asyncio.Event | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._turns = turns
        self._line_closed = line_closed
        self._words: list[str] = []
        self._started: Any = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Collect played sentences; close the agent's turn when it stops speaking or is interrupted."""
        await super().process_frame(frame, direction)
        closed = self._line_closed is not None and self._line_closed.is_set()
        if isinstance(frame, TTSTextFrame) and frame.text.strip() and not closed:
            if self._started is None:
                self._started = utc_now()
            self._words.append(frame.text.strip())
        elif isinstance(frame, BotStoppedSpeakingFrame | InterruptionFrame):
            self.flush()
        await self.push_frame(frame, direction)

    def flush(self) -> None:
        """Write the sentences heard so far as one agent turn."""
        if self._words:
            text = " ".join(self._words)
            self._turns.append(Turn(role="agent", text=text, started_at=self._started, ended_at=utc_now()))
        self._words, self._started = [], None


class BeepListener(FrameProcessor):
    """Sits after the input transport and sets ``heard`` when the callee's audio carries a voicemail beep.

    It listens only to the first ``listen_seconds`` of the call (machines beep early), so a long conversation
    costs nothing.
    """

    def __init__(self, heard: asyncio.Event, listen_seconds: float = 60.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._heard = heard
        self._detector = BeepDetector(PIPELINE_INPUT_RATE)
        self._samples_left = round(listen_seconds * PIPELINE_INPUT_RATE)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Feed inbound audio to the detector; pass every frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and self._samples_left > 0 and not self._heard.is_set():
            pcm = np.frombuffer(frame.audio, dtype=np.int16)
            self._samples_left -= pcm.size
            if frame.sample_rate == PIPELINE_INPUT_RATE and self._detector.feed(pcm):
                self._heard.set()
        await self.push_frame(frame, direction)


class SharedWhisperSTTService(WhisperSTTService):
    """Pipecat's segmented Whisper service, using the process's already loaded model instead of loading one."""

    def __init__(self, model: Any, **kwargs: Any) -> None:
        self._shared_model = model
        super().__init__(**kwargs)

    def _load(self) -> None:
        self._model = self._shared_model
