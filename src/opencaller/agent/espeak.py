"""Text-to-speech with espeak-ng, run as a separate process.

espeak-ng is GPL-3.0; running its command-line program out of process keeps opencaller (Apache-2.0) free of
it. It needs no model files and speaks instantly, which makes it the fallback voice until neural voices are
configured.
"""

from __future__ import annotations

import asyncio
import shutil

from opencaller.agent.channel import PCM
from opencaller.audio import TELEPHONE_RATE, read_wav, resample


class TextToSpeechError(RuntimeError):
    """The speech engine is missing or failed."""


class EspeakTTS:
    """Synthesizes text to 8 kHz PCM with the ``espeak-ng`` program; results are cached per text."""

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160, executable: str = "espeak-ng") -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.executable = executable
        self._cache: dict[str, PCM] = {}

    def available(self) -> bool:
        """Whether the program is installed."""
        return shutil.which(self.executable) is not None

    async def synthesize(self, text: str) -> PCM:
        """Speak ``text`` into telephone-rate PCM."""
        if text in self._cache:
            return self._cache[text]
        if not self.available():
            raise TextToSpeechError(f"{self.executable} is not installed (Debian: apt-get install espeak-ng)")
        process = await asyncio.create_subprocess_exec(
            self.executable,
            "-v",
            self.voice,
            "-s",
            str(self.words_per_minute),
            "--stdout",
            "--",
            text,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        wav, errors = await process.communicate()
        if process.returncode != 0 or not wav:
            raise TextToSpeechError(f"{self.executable} failed: {errors.decode(errors='replace').strip()}")
        pcm, rate = read_wav(wav)
        audio = resample(pcm, rate, TELEPHONE_RATE)
        self._cache[text] = audio
        return audio
