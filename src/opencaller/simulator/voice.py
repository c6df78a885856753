"""How a simulated callee speaks and understands: the :class:`CalleeVoice` interface.

The callee logic (when to talk, what to say) is separate from the voice (turning text into audio and heard audio
into text), so the fast phase-1 tests run with :class:`PlaceholderVoice`, which needs no models, while a real
voice (offline TTS and STT: :class:`~.speech.OfflineVoice`) can be plugged in for end-to-end tests without
touching the callee logic.

``PlaceholderVoice`` audio is NOT speech: each word becomes a short sine tone (a different pitch per word
length), so a line lasts about as long as it would when spoken but no speech recogniser will understand it.
Its ``transcribe`` returns None, which makes callees fall back to their ordered ``lines``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from opencaller.audio import PCM, TELEPHONE_RATE, silence, tone


class CalleeVoice(Protocol):
    """Text-to-speech and speech-to-text for a simulated callee, at the telephone rate (8 kHz PCM16)."""

    @property
    def placeholder(self) -> bool:
        """True when the audio is a stand-in for speech rather than speech."""
        ...

    async def synthesize(self, text: str) -> PCM:
        """Audio of the callee saying ``text``."""
        ...

    async def transcribe(self, pcm: PCM) -> str | None:
        """What the callee understood of ``pcm`` (the agent's turn), or None if this voice cannot listen."""
        ...


class PlaceholderVoice:
    """A model-free stand-in voice: tones of speech-like length instead of words; hears nothing."""

    SECONDS_PER_WORD = 0.3
    GAP_SECONDS = 0.06

    @property
    def placeholder(self) -> bool:
        """Always True: this voice does not produce speech."""
        return True

    async def synthesize(self, text: str) -> PCM:
        """One tone per word, separated by short gaps; about the length of the spoken line."""
        parts: list[PCM] = []
        for word in text.split():
            pitch = 220.0 + 35.0 * min(len(word), 12)
            parts.append(tone(pitch, self.SECONDS_PER_WORD, TELEPHONE_RATE, amplitude=0.2))
            parts.append(silence(self.GAP_SECONDS))
        return np.concatenate(parts) if parts else silence(0.2)

    async def transcribe(self, pcm: PCM) -> str | None:
        """This voice cannot listen; callees then answer with their ordered lines."""
        return None
