"""The timing records benchmarks read: when the platform's audio arrived, and how late the line's clock ticked."""

from __future__ import annotations

import asyncio

import numpy as np

from opencaller.audio import tone

from .conftest import Harness
from .test_media import count_media_until, media_message, start_stream


async def test_timing_records_each_platform_frame_and_every_tick(harness: Harness) -> None:
    call, stream, sid = await start_stream(harness, "+15005550000")
    frame = tone(440, 0.02)
    for _ in range(5):
        await stream.send(media_message(sid, frame))
        await asyncio.sleep(0.1)  # frames 100 ms apart: their arrival times must show the spacing
    await stream.send({"event": "mark", "streamSid": sid, "mark": {"name": "sent"}})
    await count_media_until(stream, "mark")
    await stream.close()
    await harness.platform.wait_final_status(call["sid"])

    response = await harness.inspect.get(f"/_simulator/calls/{call['sid']}/timing")
    assert response.status_code == 200
    timing = response.json()
    assert timing["sid"] == call["sid"]
    assert timing["frame_seconds"] == 0.02
    arrivals = timing["media_arrivals"]
    assert len(arrivals) == 5
    assert arrivals == sorted(arrivals)
    assert arrivals[0] > 0  # seconds since the answer: the stream connects after it
    gaps = np.diff(arrivals)
    assert gaps.min() >= 0.09
    detail = await harness.detail(call["sid"])
    ticks = timing["tick_lateness"]
    # one lateness entry per tick, and one tick per recorded 20 ms frame
    assert len(ticks) == round(detail["audio"]["sent_seconds"] / 0.02)
    assert min(ticks) >= 0


async def test_timing_of_an_unknown_call_is_not_found(harness: Harness) -> None:
    response = await harness.inspect.get("/_simulator/calls/CA" + "0" * 32 + "/timing")
    assert response.status_code == 404
