"""Hearing an answering machine's beep: a steady pure tone, found by its energy at one frequency.

A voicemail message must start after the beep, or its first words are not recorded. The beep is a sine of a
few hundred milliseconds, most often at 1 kHz; speech never puts most of its energy in one narrow frequency for
that long, so "one frequency holds most of the block's energy for ``min_seconds``" is a robust test that needs
no model. :class:`BeepDetector` is fed audio as it arrives and reports once, when the tone has *ended* (so the
message is not spoken over the beep). Pure: samples in, a yes or no out.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

COMMON_BEEP_HZ = (1000.0, 850.0, 1400.0, 440.0)
"""Frequencies answering machines and carrier voicemail beep at (1 kHz first: the most common)."""


def tone_share(block: npt.NDArray[np.float64], rate: int, hz: float) -> float:
    """The share (0..1) of ``block``'s energy at frequency ``hz``; 1.0 for a pure tone at ``hz``.

    This is the single-frequency DFT the Goertzel algorithm computes, written as two dot products so numpy does
    the per-sample work.
    """
    n = block.size
    energy = float(np.dot(block, block))
    if n == 0 or energy <= 0.0:
        return 0.0
    phase = 2.0 * math.pi * hz / rate * np.arange(n)
    real, imaginary = float(np.dot(block, np.cos(phase))), float(np.dot(block, np.sin(phase)))
    return min(1.0, 2.0 * (real * real + imaginary * imaginary) / (n * energy))


class BeepDetector:
    """Finds the end of a beep in a stream of 16-bit mono audio at ``rate`` Hz.

    The audio is cut into ``block_seconds`` blocks; a block is "tone" when one of ``frequencies`` holds at least
    ``min_share`` of its energy and it is louder than ``min_rms``. A beep is a run of tone blocks at least
    ``min_seconds`` long; :meth:`feed` returns True once, on the first block after such a run (or when the run
    reaches ``max_seconds``: a tone that never ends is still a beep).
    """

    def __init__(
        self,
        rate: int,
        *,
        frequencies: tuple[float, ...] = COMMON_BEEP_HZ,
        block_seconds: float = 0.02,
        min_seconds: float = 0.12,
        max_seconds: float = 1.5,
        min_share: float = 0.6,
        min_rms: float = 300.0,
    ) -> None:
        self._rate = rate
        self._frequencies = frequencies
        self._block = max(1, round(rate * block_seconds))
        self._min_blocks = max(1, math.ceil(min_seconds / block_seconds - 1e-9))
        self._max_blocks = max(self._min_blocks, round(max_seconds / block_seconds))
        self._min_share = min_share
        self._min_rms = min_rms
        self._pending = np.zeros(0, dtype=np.float64)
        self._run = 0
        self._frequency: float | None = None
        self.heard = False
        """True once a beep has been reported."""

    def _is_tone(self, block: npt.NDArray[np.float64]) -> float | None:
        if math.sqrt(float(np.dot(block, block)) / block.size) < self._min_rms:
            return None
        candidates = (self._frequency,) if self._frequency is not None else self._frequencies
        for hz in candidates:
            if hz is not None and tone_share(block, self._rate, hz) >= self._min_share:
                return hz
        return None

    def feed(self, samples: npt.NDArray[np.int16]) -> bool:
        """Take the next samples; True exactly once, when a beep has just ended."""
        if self.heard:
            return False
        self._pending = np.concatenate([self._pending, samples.astype(np.float64)])
        while self._pending.size >= self._block:
            block, self._pending = self._pending[: self._block], self._pending[self._block :]
            hz = self._is_tone(block)
            if hz is not None:
                self._run += 1
                self._frequency = hz
                if self._run >= self._max_blocks:
                    return self._report()
                continue
            ended = self._run >= self._min_blocks
            self._run, self._frequency = 0, None
            if ended:
                return self._report()
        return False

    def _report(self) -> bool:
        self.heard = True
        self._pending = np.zeros(0, dtype=np.float64)
        return True
