"""Piper text-to-speech run as a supervised child process (Piper and espeak-ng are GPL-3.0; opencaller is not).

opencaller never imports ``piper``: :class:`PiperProcess` starts Piper's own command-line program
(``python -m piper`` from the ``piper-tts`` package, in the same interpreter environment) and talks to it over
pipes, so the GPL code runs in a separate program. The process is started on first use, serves every request
after that (the voice model is loaded once), is restarted on the next request if it dies, and is stopped by
:meth:`PiperProcess.close`.

The protocol is the CLI's "one WAV file per input line" mode: each request writes one line of text to Piper's
stdin; Piper synthesizes it into a new file in a private temporary directory and logs ``Wrote <path>`` on stderr,
which is the signal that the file is complete. The file is read and deleted. Requests are served one at a time.

Everything here blocks (pipes and files), so it is loop-agnostic: async callers run it in a worker thread. That
also lets one process serve several event loops (a test session shares one across its tests).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path

import numpy as np

from opencaller.audio import PCM, read_wav

_WROTE = re.compile(r"Wrote (?P<path>.+\.wav)\s*$")
_SPEAKABLE = re.compile(r"[0-9A-Za-z]")
_DEFAULT_RATE = 22050
STOP_TIMEOUT_SECONDS = 5.0
"""How long :meth:`PiperProcess.close` waits for Piper to exit after SIGTERM before killing it."""


class SpeechEngineError(RuntimeError):
    """A speech engine failed (the Piper process died or answered something unexpected)."""


class PiperProcess:
    """One long-lived Piper CLI process for one voice; thread-safe, one synthesis at a time."""

    def __init__(
        self,
        model: Path,
        config: Path,
        *,
        noise_scale: float = 0.0,
        noise_w_scale: float = 0.0,
        python: str | None = None,
    ) -> None:
        """Prepare (but do not start) Piper for the voice ``model`` (``.onnx``) and its ``config`` (``.onnx.json``).

        The noise scales default to 0, which makes Piper's output bit-identical for the same text: callees then
        sound the same on every run, and transcriptions in tests are repeatable.
        """
        self._model = model
        self._config = config
        self._noise_scale = noise_scale
        self._noise_w_scale = noise_w_scale
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._workdir: Path | None = None
        self._closed = False
        self.starts = 0
        """How many times a Piper process has been started (1 in a healthy run)."""

    @property
    def pid(self) -> int | None:
        """The running Piper process's id, or None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        """True while a Piper process is alive."""
        process = self._process
        return process is not None and process.poll() is None

    def _start(self) -> subprocess.Popen[str]:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="opencaller-piper-"))
        command = [
            self._python,
            "-m",
            "piper",
            "--model",
            str(self._model),
            "--config",
            str(self._config),
            "--output-dir",
            str(self._workdir),
            "--noise-scale",
            str(self._noise_scale),
            "--noise-w-scale",
            str(self._noise_w_scale),
        ]
        process = subprocess.Popen(  # noqa: S603 - a fixed command: this interpreter running Piper's own CLI
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            cwd=self._workdir,
        )
        self.starts += 1
        return process

    def synthesize(self, text: str) -> tuple[PCM, int]:
        """Speak ``text``; returns ``(samples, sample_rate)`` (Piper's native rate, 22050 Hz for medium voices).

        Blocks until Piper has written the audio (start-up included on the first call). Text with nothing to
        pronounce gives an empty array without bothering Piper. A Piper that has died since the last request is
        replaced by a fresh one and the request retried once; :class:`SpeechEngineError` if that fails too.
        """
        line = " ".join(text.split())
        if not _SPEAKABLE.search(line):
            return np.zeros(0, dtype=np.int16), _DEFAULT_RATE
        with self._lock:
            for attempt in (1, 2):
                if self._closed:
                    raise SpeechEngineError("the Piper process has been closed")
                process = self._process
                if process is None or process.poll() is not None:
                    _release(process)  # a Piper that died: reap it before starting a fresh one
                    process = self._process = self._start()
                try:
                    path = self._request(process, line)
                except SpeechEngineError:
                    if attempt == 2 or self._closed:
                        raise
                    _release(process)
                    self._process = None
                    continue
                try:
                    return read_wav(path.read_bytes())
                finally:
                    path.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def _request(self, process: subprocess.Popen[str], line: str) -> Path:
        """Send one line to ``process``; the path of the WAV file Piper wrote for it."""
        assert process.stdin is not None and process.stderr is not None
        recent: deque[str] = deque(maxlen=20)
        try:
            process.stdin.write(line + "\n")
            process.stdin.flush()
            while True:
                message = process.stderr.readline()
                if not message:
                    raise SpeechEngineError("Piper exited: " + " | ".join(m.strip() for m in recent))
                recent.append(message)
                found = _WROTE.search(message)
                if found is not None:
                    break
        except (OSError, ValueError) as exc:  # a broken pipe, or closed concurrently
            raise SpeechEngineError(f"Piper is not reachable: {exc}") from exc
        path = Path(found.group("path"))
        if path.parent != self._workdir:
            raise SpeechEngineError(f"Piper wrote outside its directory: {path}")
        return path

    def close(self) -> None:
        """Stop the Piper process (if any) and delete its working directory; later requests fail."""
        self._closed = True
        _terminate(self._process)  # unblocks a request waiting on Piper, so the lock below is released
        with self._lock:
            process, self._process = self._process, None
            _release(process)
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None


def _terminate(process: subprocess.Popen[str] | None) -> None:
    """SIGTERM ``process`` and reap it; SIGKILL if it has not exited within :data:`STOP_TIMEOUT_SECONDS`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _release(process: subprocess.Popen[str] | None) -> None:
    """Stop ``process`` if it still runs, and close its pipes."""
    if process is None:
        return
    _terminate(process)
    for stream in (process.stdin, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()
