"""In-band DTMF: generate key tones and recognise them in 20 ms telephone frames.

An agent navigates an IVR by playing key tones into the call's audio (a Media Stream cannot send keys any other
way), so the simulated IVR listens for them with a Goertzel filter bank on each 8 kHz frame.
"""

from __future__ import annotations

import numpy as np

from opencaller.audio import PCM, TELEPHONE_RATE

_LOW = (697.0, 770.0, 852.0, 941.0)
_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYS = ("123A", "456B", "789C", "*0#D")


def dtmf_tone(digit: str, seconds: float = 0.1, rate: int = TELEPHONE_RATE, amplitude: float = 0.25) -> PCM:
    """The two-frequency tone of one key (``0-9``, ``*``, ``#``, ``A-D``)."""
    for row, keys in enumerate(_KEYS):
        if digit in keys:
            low, high = _LOW[row], _HIGH[keys.index(digit)]
            break
    else:
        raise ValueError(f"not a DTMF key: {digit!r}")
    t = np.arange(round(seconds * rate)) / rate
    wave = (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)) * amplitude * 32767 / 2
    return np.round(wave).astype(np.int16)


def _power(samples: np.ndarray, frequency: float, rate: int) -> float:
    """Goertzel power of one frequency in ``samples``."""
    coeff = 2 * np.cos(2 * np.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = float(x) + coeff * s1 - s2
        s2, s1 = s1, s0
    return float(s1 * s1 + s2 * s2 - coeff * s1 * s2)


def detect_key(frame: PCM, rate: int = TELEPHONE_RATE) -> str | None:
    """The DTMF key sounding in ``frame``, or None when there is none (speech, silence, noise)."""
    samples = frame.astype(np.float64)
    energy = float(np.dot(samples, samples))
    if energy < samples.size * 200.0**2:
        return None
    low = [_power(samples, f, rate) for f in _LOW]
    high = [_power(samples, f, rate) for f in _HIGH]
    row, col = int(np.argmax(low)), int(np.argmax(high))
    tone_power = (low[row] + high[col]) * 2 / samples.size
    # A real key puts most of the frame's energy into exactly one low and one high tone.
    if tone_power < 0.6 * energy:
        return None
    if sorted(low)[-2] > 0.2 * low[row] or sorted(high)[-2] > 0.2 * high[col]:
        return None
    return _KEYS[row][col]


class KeyListener:
    """Turns per-frame detections into key presses: a key counts once it sounds for two frames in a row."""

    def __init__(self) -> None:
        self._candidate: str | None = None
        self._count = 0
        self._reported = False

    def feed(self, frame: PCM) -> str | None:
        """Feed one frame; returns a key when a new press is recognised."""
        key = detect_key(frame)
        if key != self._candidate:
            self._candidate, self._count, self._reported = key, 0, False
        if key is None:
            return None
        self._count += 1
        if self._count >= 2 and not self._reported:
            self._reported = True
            return key
        return None
