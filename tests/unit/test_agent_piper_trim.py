"""Piper's leading silence is cut from each sentence, whatever the chunking of the WAV stream."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator

import numpy as np
import pytest

from opencaller.agent.piper_http import WAV_HEADER_BYTES, without_leading_silence


def _wav(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def _trimmed(data: bytes, chunk: int) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    async def collect() -> bytes:
        return b"".join([part async for part in without_leading_silence(chunks())])

    return asyncio.run(collect())


@pytest.mark.parametrize("chunk", [1, 7, 44, 45, 1000, 100_000])
def test_the_quiet_start_is_cut_and_the_speech_kept_whole(chunk: int) -> None:
    quiet = np.full(1500, 30)  # about 70 ms of Piper's near-silence
    speech = (np.sin(np.arange(4000) / 5) * 8000).astype(np.int16)
    data = _wav(np.concatenate([quiet, speech]))
    out = _trimmed(data, chunk)
    assert out[:WAV_HEADER_BYTES] == data[:WAV_HEADER_BYTES]
    body = np.frombuffer(out[WAV_HEADER_BYTES:], dtype="<i2")
    first_loud = int(np.flatnonzero(np.abs(speech) > 200)[0])
    assert np.array_equal(body, speech[first_loud:])


def test_an_all_quiet_sentence_is_passed_on_not_lost() -> None:
    data = _wav(np.zeros(300, dtype=np.int16))
    out = _trimmed(data, 64)
    assert out[:WAV_HEADER_BYTES] == data[:WAV_HEADER_BYTES]
