"""Audio helpers shared by the agent, the recorder and the phone-network simulator.

Telephone audio is G.711 µ-law at 8 kHz; the speech models want linear PCM at 16 kHz or more. These functions
convert between the two worlds with numpy only, so every layer (including the simulator, which may import nothing
else of opencaller) shares one tested implementation:

* :func:`ulaw_encode` / :func:`ulaw_decode`: G.711 µ-law ⇄ signed 16-bit PCM (ITU-T G.711, bit-exact with the
  classic Sun/CCITT reference tables).
* :func:`resample`: rate conversion (8 kHz ⇄ 16 kHz and any other pair), with an anti-alias filter when going down.
* :func:`wav_bytes` / :func:`write_wav` / :func:`read_wav`: 16-bit PCM WAV files.
* :func:`tone`, :func:`silence`, :func:`rms`: small generators and a level meter for tests and placeholders.

PCM is always a 1-D ``numpy.int16`` array (or 2-D ``(frames, channels)`` for multichannel WAV writing).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

PCM = npt.NDArray[np.int16]
"""Signed 16-bit linear PCM samples."""

TELEPHONE_RATE = 8000
"""Sample rate of G.711 telephone audio, in Hz."""

_ULAW_BIAS = 0x84
_ULAW_CLIP_14 = 8159
_ULAW_BIAS_14 = 0x21


def _build_decode_table() -> PCM:
    codes = np.arange(256, dtype=np.int32)
    inverted = ~codes & 0xFF
    sign = inverted & 0x80
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


_ULAW_DECODE_TABLE = _build_decode_table()


def ulaw_encode(pcm: npt.ArrayLike) -> bytes:
    """Encode 16-bit linear PCM samples to G.711 µ-law bytes (one byte per sample)."""
    samples = np.asarray(pcm, dtype=np.int32).ravel() >> 2  # the reference coder works on 14-bit samples
    negative = samples < 0
    magnitude = np.minimum(np.abs(samples), _ULAW_CLIP_14) + _ULAW_BIAS_14
    segment = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 5, 0, 7)
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(magnitude >= 0x2000, 0x7F, code)  # beyond the last segment: the loudest code
    mask = np.where(negative, 0x7F, 0xFF)
    return (code ^ mask).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> PCM:
    """Decode G.711 µ-law bytes to 16-bit linear PCM samples."""
    codes = np.frombuffer(data, dtype=np.uint8)
    return _ULAW_DECODE_TABLE[codes]


def _lowpass_kernel(cutoff: float, taps: int = 63) -> npt.NDArray[np.float64]:
    """A Hamming-windowed sinc low-pass filter; ``cutoff`` is a fraction of the sample rate (0..0.5)."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    normalized: npt.NDArray[np.float64] = kernel / kernel.sum()
    return normalized


def resample(pcm: npt.ArrayLike, from_rate: int, to_rate: int) -> PCM:
    """Convert mono 16-bit PCM from one sample rate to another.

    Integer up-sampling (8 k → 16 k) stuffs zeros and low-pass filters; integer down-sampling (16 k → 8 k) filters
    then decimates; any other ratio (e.g. Piper's 22050 Hz → 8 kHz) filters when going down and interpolates.
    """
    samples = np.asarray(pcm, dtype=np.float64).ravel()
    if from_rate == to_rate or samples.size == 0:
        return np.asarray(np.round(samples), dtype=np.int16)
    if to_rate % from_rate == 0:
        factor = to_rate // from_rate
        stuffed = np.zeros(samples.size * factor, dtype=np.float64)
        stuffed[::factor] = samples * factor
        out = np.convolve(stuffed, _lowpass_kernel(0.5 / factor * 0.95), mode="same")
    elif from_rate % to_rate == 0:
        factor = from_rate // to_rate
        filtered = np.convolve(samples, _lowpass_kernel(0.5 / factor * 0.95), mode="same")
        out = filtered[::factor]
    else:
        if to_rate < from_rate:
            samples = np.convolve(samples, _lowpass_kernel(0.5 * to_rate / from_rate * 0.95), mode="same")
        count = round(samples.size * to_rate / from_rate)
        positions = np.arange(count) * (from_rate / to_rate)
        out = np.interp(positions, np.arange(samples.size), samples)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def wav_bytes(pcm: npt.ArrayLike, rate: int) -> bytes:
    """A complete 16-bit PCM WAV file holding ``pcm`` (1-D mono, or 2-D ``(frames, channels)``)."""
    samples = np.asarray(pcm, dtype=np.int16)
    channels = 1 if samples.ndim == 1 else int(samples.shape[1])
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(path: Path, pcm: npt.ArrayLike, rate: int) -> None:
    """Write ``pcm`` to ``path`` as a 16-bit PCM WAV file."""
    path.write_bytes(wav_bytes(pcm, rate))


def read_wav(data: bytes) -> tuple[PCM, int]:
    """Read a 16-bit PCM WAV file's bytes into ``(samples, rate)``; multichannel files are averaged to mono."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM WAV files are supported")
        channels = reader.getnchannels()
        rate = reader.getframerate()
        frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.int16)
    if channels > 1:
        frames = frames.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return frames, rate


def tone(frequency: float, seconds: float, rate: int = TELEPHONE_RATE, amplitude: float = 0.3) -> PCM:
    """A sine tone of ``seconds`` length at ``amplitude`` (a fraction of full scale)."""
    count = max(0, round(seconds * rate))
    t = np.arange(count) / rate
    return np.round(np.sin(2 * np.pi * frequency * t) * amplitude * 32767).astype(np.int16)


def silence(seconds: float, rate: int = TELEPHONE_RATE) -> PCM:
    """``seconds`` of digital silence."""
    return np.zeros(max(0, round(seconds * rate)), dtype=np.int16)


def rms(pcm: npt.ArrayLike) -> float:
    """Root-mean-square level of PCM samples (0 for an empty array), in 16-bit sample units."""
    samples = np.asarray(pcm, dtype=np.float64)
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples * samples)))
