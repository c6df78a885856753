"""Speech synthesized ahead of time, so the opening is ready the moment the callee answers.

The opening ("Hi Jordan, this is Sam from Sunny Solar. May I have your full name, please?") is known before the
callee speaks, and the same template says the same sentences on many calls. :class:`SpeechCache` keeps Piper's
WAV answers per sentence (bounded, least recently used first out) and :meth:`SpeechCache.prefetch` synthesizes
a text's sentences while the agent is still listening for the callee's hello. :class:`CachedPiperSpeech`
plays a cached sentence without asking Piper again; anything not cached is synthesized as usual.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import aiohttp
import structlog
from pipecat.frames.frames import Frame
from pipecat.utils.string import match_endofsentence

from opencaller.agent.piper_http import PiperHttpSpeech, without_leading_silence

log = structlog.get_logger(__name__)

CHUNK_BYTES = 8192


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences the way Pipecat's TTS aggregator cuts a reply before synthesis."""
    found: list[str] = []
    rest = text
    while rest.strip():
        end = match_endofsentence(rest)
        if not end:
            found.append(rest.strip())
            break
        found.append(rest[:end].strip())
        rest = rest[end:]
    return found


class SpeechCache:
    """Piper's WAV audio for recently spoken sentences, keyed by the sentence text."""

    def __init__(self, max_sentences: int = 256) -> None:
        self._audio: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_sentences
        self.hits = 0

    def get(self, text: str) -> bytes | None:
        """The WAV bytes of ``text`` if cached (and mark it recently used)."""
        key = text.strip()
        audio = self._audio.get(key)
        if audio is not None:
            self._audio.move_to_end(key)
            self.hits += 1
        return audio

    def put(self, text: str, wav: bytes) -> None:
        """Keep ``wav`` as the audio of ``text``."""
        self._audio[text.strip()] = wav
        self._audio.move_to_end(text.strip())
        while len(self._audio) > self._max:
            self._audio.popitem(last=False)

    async def prefetch(self, text: str, piper_url: str, session: aiohttp.ClientSession) -> None:
        """Synthesize every sentence of ``text`` that is not cached yet (errors only cost the head start)."""
        for sentence in sentences(text):
            if sentence in self._audio:
                continue
            try:
                async with session.post(piper_url, json={"text": sentence}) as response:
                    if response.status == 200:
                        self.put(sentence, await response.read())
            except aiohttp.ClientError as exc:
                log.warning("could not synthesize ahead", error=str(exc))
                return


class CachedPiperSpeech(PiperHttpSpeech):
    """Piper over HTTP, answering sentences found in a :class:`SpeechCache` without a round trip."""

    def __init__(self, cache: SpeechCache, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cache = cache

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Play ``text`` from the cache when it is there, else synthesize it."""
        wav = self._cache.get(text)
        if wav is None:
            async for frame in super().run_tts(text, context_id):
                yield frame
            return
        await self.start_tts_usage_metrics(text)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(wav), CHUNK_BYTES):
                yield wav[start : start + CHUNK_BYTES]

        async for frame in self._stream_audio_frames_from_iterator(
            without_leading_silence(chunks()), strip_wav_header=True, context_id=context_id
        ):
            await self.stop_ttfb_metrics()
            yield frame
