"""The voicemail beep detector: a steady tone is a beep, reported once when it ends; speech and noise are not."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from opencaller.agent.beep import BeepDetector, tone_share

RATE = 16000


def _tone(hz: float, seconds: float, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    t = np.arange(round(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(RATE * seconds), dtype=np.int16)


def _voice_like(seconds: float) -> npt.NDArray[np.int16]:
    """A vowel-like sound: a 140 Hz fundamental with falling harmonics and a wandering pitch."""
    t = np.arange(round(RATE * seconds)) / RATE
    pitch = 140 + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 25))
    return (4000 * wave / np.max(np.abs(wave))).astype(np.int16)


def _feed_in_chunks(detector: BeepDetector, audio: npt.NDArray[np.int16], chunk: int = 317) -> list[int]:
    """Feed odd-sized chunks (as a network delivers them); the sample offsets at which a beep was reported."""
    hits = []
    for start in range(0, audio.size, chunk):
        if detector.feed(audio[start : start + chunk]):
            hits.append(start)
    return hits


def test_tone_share_is_near_one_for_a_pure_tone_and_small_elsewhere() -> None:
    block = _tone(1000, 0.02).astype(np.float64)
    assert tone_share(block, RATE, 1000) > 0.95
    assert tone_share(block, RATE, 1400) < 0.1
    assert tone_share(np.zeros(320), RATE, 1000) == 0.0


@pytest.mark.parametrize("hz", [1000.0, 850.0])
def test_a_half_second_beep_is_reported_once_after_it_ends(hz: float) -> None:
    audio = np.concatenate([_voice_like(1.5), _silence(0.3), _tone(hz, 0.5), _silence(1.0), _tone(hz, 0.5)])
    detector = BeepDetector(RATE)

    hits = _feed_in_chunks(detector, audio)

    beep_end = round(RATE * 2.3)
    assert len(hits) == 1
    assert beep_end - 320 <= hits[0] <= beep_end + 2 * 320  # within a block or two of the tone's end
    assert detector.heard


def test_speech_noise_and_short_clicks_are_not_beeps() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 3000, RATE * 2).astype(np.int16)
    click = _tone(1000, 0.04)
    audio = np.concatenate([_voice_like(3.0), noise, _silence(0.2), click, _silence(0.5)])

    assert _feed_in_chunks(BeepDetector(RATE), audio) == []


def test_a_quiet_tone_is_ignored_and_an_endless_one_still_counts() -> None:
    assert _feed_in_chunks(BeepDetector(RATE), _tone(1000, 0.6, amplitude=100)) == []
    assert len(_feed_in_chunks(BeepDetector(RATE, max_seconds=1.0), _tone(1000, 3.0))) == 1
