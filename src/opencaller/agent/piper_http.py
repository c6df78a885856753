"""Piper speech over HTTP, with no Piper code in this process.

Pipecat's own Piper service module imports the ``piper`` package when it is installed, which would load GPL-3.0
code into opencaller (Apache-2.0). This service only talks HTTP to Piper's server, which opencaller runs as a
separate process (:class:`~opencaller.agent.voice_models.PiperServer`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import aiohttp
import numpy as np
from pipecat.frames.frames import ErrorFrame, Frame, TTSStoppedFrame
from pipecat.services.tts_service import TTSService


class PiperHttpSpeech(TTSService):
    """Sends each sentence to Piper's HTTP server and streams back the WAV it answers, header stripped."""

    def __init__(self, *, base_url: str, session: aiohttp.ClientSession, sample_rate: int) -> None:
        super().__init__(push_start_frame=True, push_stop_frames=True, sample_rate=sample_rate)
        self._url = base_url.rstrip("/")
        self._session = session

    def can_generate_metrics(self) -> bool:
        """Time-to-first-byte and usage metrics are reported."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize ``text``; a failed request becomes an error frame, never an exception in the pipeline."""
        try:
            async with self._session.post(self._url, json={"text": text}) as response:
                if response.status != 200:
                    yield ErrorFrame(error=f"Piper answered HTTP {response.status}: {await response.text()}")
                    yield TTSStoppedFrame(context_id=context_id)
                    return
                await self.start_tts_usage_metrics(text)
                async for frame in self._stream_audio_frames_from_iterator(
                    without_leading_silence(response.content.iter_chunked(self.chunk_size)),
                    strip_wav_header=True,
                    context_id=context_id,
                ):
                    await self.stop_ttfb_metrics()
                    yield frame
        except aiohttp.ClientError as exc:
            yield ErrorFrame(error=f"Piper request failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()


WAV_HEADER_BYTES = 44
"""The canonical RIFF header Piper writes before its 16-bit mono samples."""
QUIET_SAMPLE = 200
"""Samples quieter than this (about -44 dBFS) at the start of a sentence are silence Piper put there."""


async def without_leading_silence(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Piper's WAV with the silence it starts every sentence with (about 70 ms) cut: the reply starts sooner.

    The header is passed on unchanged (its size fields are not read downstream: the stream is cut at its end).
    """
    head = b""
    trimming = True
    async for chunk in chunks:
        if not trimming:
            yield chunk
            continue
        head += chunk
        if len(head) <= WAV_HEADER_BYTES:
            continue
        header, body = head[:WAV_HEADER_BYTES], head[WAV_HEADER_BYTES:]
        start = _first_loud_sample(body)
        if start is None:
            head = header + body[len(body) - len(body) % 2 :]  # all quiet so far: keep looking
            continue
        trimming = False
        yield header + body[start * 2 :]
    if trimming and head:
        yield head


def _first_loud_sample(body: bytes) -> int | None:
    """Index of the first 16-bit sample louder than :data:`QUIET_SAMPLE`, or None."""
    samples = np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2").astype(np.int32)
    loud = np.flatnonzero(np.abs(samples) > QUIET_SAMPLE)
    return int(loud[0]) if loud.size else None
