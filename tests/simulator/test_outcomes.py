"""Call outcomes and their status callbacks: busy, no-answer, failed, cancelled, recordings and AMD."""

from __future__ import annotations

import re

from opencaller.audio import read_wav

from .conftest import ACCOUNT_SID, Harness

RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


async def test_busy_rings_then_ends_busy_with_sip_486(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550001")
    final = await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["initiated", "ringing", "busy"]
    assert final["SipResponseCode"] == "486"
    assert final["CallDuration"] == "0"
    assert final["Direction"] == "outbound-api"
    assert final["AccountSid"] == ACCOUNT_SID
    assert final["CallbackSource"] == "call-progress-events"
    assert RFC2822.match(final["Timestamp"])
    fetched = (await harness.rest.get(f"{harness.calls_path}/{call['sid']}.json")).json()
    assert fetched["status"] == "busy"
    assert fetched["duration"] == "0"


async def test_unroutable_number_fails_without_ringing(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550003")
    final = await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["initiated", "failed"]
    assert final["SipResponseCode"] == "404"


async def test_no_answer_after_the_ring_timeout(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550002", Timeout="1")
    final = await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["initiated", "ringing", "no-answer"]
    assert final["SipResponseCode"] == "487"


async def test_ring_longer_than_timeout_is_no_answer(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550008", Timeout="1")
    await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"])[-1] == "no-answer"


async def test_default_subscription_sends_only_completed(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550001", StatusCallbackEvent=None)
    await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["busy"]
    only = next(c for c in harness.platform.callbacks if c.get("CallSid") == call["sid"])
    assert only["SequenceNumber"] == "0"


async def test_cancel_while_ringing(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550008")
    await harness.platform.wait_callbacks(
        lambda cbs: any(c.get("CallSid") == call["sid"] and c["CallStatus"] == "ringing" for c in cbs)
    )
    response = await harness.update(call["sid"], Status="canceled")
    assert response.status_code == 200
    final = await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["initiated", "ringing", "canceled"]
    assert final["SipResponseCode"] == "487"
    fetched = (await harness.rest.get(f"{harness.calls_path}/{call['sid']}.json")).json()
    assert fetched["status"] == "canceled"
    again = await harness.update(call["sid"], Status="canceled")
    assert again.status_code == 404
    assert again.json()["code"] == 20404
    detail = await harness.detail(call["sid"])
    assert detail["ended_by"] == "api-cancel"


async def test_callee_hangs_up_and_recording_is_announced(harness: Harness) -> None:
    call = await harness.dial_ok(
        "+15005550004",
        Record="true",
        RecordingStatusCallback=harness.platform.base_url + "/recording",
    )
    stream = await harness.platform.next_stream()
    stop = await stream.receive_event("stop")
    assert stop["stop"] == {"accountSid": ACCOUNT_SID, "callSid": call["sid"]}
    final = await harness.platform.wait_final_status(call["sid"])
    assert harness.platform.status_sequence(call["sid"]) == ["initiated", "ringing", "in-progress", "completed"]
    assert final["SipResponseCode"] == "200"
    assert final["RecordingSid"].startswith("RE")

    callbacks = await harness.platform.wait_callbacks(lambda cbs: any(c["path"] == "recording" for c in cbs))
    recording = next(c for c in callbacks if c["path"] == "recording")
    assert recording["CallSid"] == call["sid"]
    assert recording["RecordingStatus"] == "completed"
    assert recording["RecordingSid"] == final["RecordingSid"]
    wav = await harness.rest.get(recording["RecordingUrl"] + ".wav")
    assert wav.status_code == 200
    samples, rate = read_wav(wav.content)
    assert rate == 8000
    assert samples.size > 0
    anonymous = await harness.inspect.get(recording["RecordingUrl"])
    assert anonymous.status_code == 401
    detail = await harness.detail(call["sid"])
    assert detail["ended_by"] == "callee"


async def test_sync_amd_reports_voicemail_after_the_beep(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550006", MachineDetection="DetectMessageEnd")
    stream = await harness.platform.next_stream()
    assert harness.platform.twiml_requests[-1]["AnsweredBy"] == "machine_end_beep"
    await stream.receive_event("stop")  # the machine stops recording after max_message_seconds
    final = await harness.platform.wait_final_status(call["sid"])
    assert final["AnsweredBy"] == "machine_end_beep"
    detail = await harness.detail(call["sid"])
    said = [entry["text"] for entry in detail["transcript"] if entry["speaker"] == "callee"]
    assert said[:2] == ["Leave a message.", "[beep]"]


async def test_async_amd_posts_answered_by_for_a_person(harness: Harness) -> None:
    call = await harness.dial_ok(
        "+15005550000",
        MachineDetection="Enable",
        AsyncAmd="true",
        AsyncAmdStatusCallback=harness.platform.base_url + "/amd",
    )
    stream = await harness.platform.next_stream()
    callbacks = await harness.platform.wait_callbacks(lambda cbs: any(c["path"] == "amd" for c in cbs))
    amd = next(c for c in callbacks if c["path"] == "amd")
    assert amd["AnsweredBy"] == "human"
    assert amd["CallSid"] == call["sid"]
    assert int(amd["MachineDetectionDuration"]) >= 0
    await stream.close()
    await harness.platform.wait_final_status(call["sid"])
