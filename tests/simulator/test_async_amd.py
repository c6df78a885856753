"""Asynchronous answering-machine detection as the simulator plays it: the call connects at once, the verdict
comes later on its own signed callback, and a call that ends first gets none (and is not held up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.simulator.conftest import WAIT, Harness, running_harness

SCENARIOS = Path(__file__).with_name("amd_scenarios.yaml")
VOICEMAIL = "+15005550020"
PERSON = "+15005550021"


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running_harness(SCENARIOS) as running:
        yield running


def _async_amd(harness: Harness, mode: str = "DetectMessageEnd") -> dict[str, str]:
    return {
        "MachineDetection": mode,
        "AsyncAmd": "true",
        "AsyncAmdStatusCallback": harness.platform.base_url + "/amd",
    }


def _events(log: list[dict[str, object]]) -> list[object]:
    return [entry["event"] for entry in log]


async def test_the_stream_runs_before_the_machine_verdict_arrives(harness: Harness) -> None:
    call = await harness.dial_ok(VOICEMAIL, **_async_amd(harness))
    stream = await harness.platform.next_stream()
    await stream.receive_event("start")

    callbacks = await harness.platform.wait_callbacks(lambda cbs: any(c["path"] == "amd" for c in cbs))

    amd = next(c for c in callbacks if c["path"] == "amd")
    assert amd["CallSid"] == call["sid"]
    assert amd["AccountSid"] == call["account_sid"]
    assert amd["AnsweredBy"] == "machine_end_beep"  # DetectMessageEnd waits for the beep
    assert "AnsweredBy" not in harness.platform.twiml_requests[-1], "async detection does not hold the TwiML"
    events = _events((await harness.detail(call["sid"]))["log"])
    assert events.index("stream-started") < events.index("amd"), "the media was connected only after detection"
    heard = [e for e in (await harness.detail(call["sid"]))["transcript"] if e["speaker"] == "callee"]
    assert [e["text"] for e in heard][-1] == "[beep]", "the verdict came before the greeting had ended"
    await stream.close()
    final = await harness.platform.wait_final_status(call["sid"])
    assert final["AnsweredBy"] == "machine_end_beep"


async def test_a_person_is_reported_as_human_once_the_hello_is_over(harness: Harness) -> None:
    call = await harness.dial_ok(PERSON, **_async_amd(harness, "Enable"))
    stream = await harness.platform.next_stream()

    callbacks = await harness.platform.wait_callbacks(lambda cbs: any(c["path"] == "amd" for c in cbs))

    amd = next(c for c in callbacks if c["path"] == "amd")
    assert amd["AnsweredBy"] == "human"
    assert int(amd["MachineDetectionDuration"]) > 0
    await stream.close()
    await harness.platform.wait_final_status(call["sid"])


async def test_a_call_that_ends_during_detection_gets_no_verdict_and_ends_at_once(harness: Harness) -> None:
    call = await harness.dial_ok(VOICEMAIL, **_async_amd(harness))
    stream = await harness.platform.next_stream()
    await stream.receive_event("start")

    hang_up = await harness.update(call["sid"], Status="completed")  # still in the middle of the greeting
    assert hang_up.status_code == 200, hang_up.text
    await harness.platform.wait_final_status(call["sid"])

    async def finished() -> dict[str, object]:
        while not (detail := await harness.detail(call["sid"]))["finished"]:
            await asyncio.sleep(0.05)
        return detail

    detail = await asyncio.wait_for(finished(), WAIT)  # detection would otherwise listen on for its 30 s timeout
    assert "amd-abandoned" in _events(detail["log"])  # type: ignore[arg-type]
    assert not [c for c in harness.platform.callbacks if c["path"] == "amd"]
    assert detail["answered_by"] is None
