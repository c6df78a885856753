"""Asynchronous answering-machine detection on the wire: the create-call parameters (as the provider sends them and
as the simulator reads them), the callback URL, and the verdict callback's parsing."""

from __future__ import annotations

import pytest

from opencaller.agent.answerer import Answerer
from opencaller.engine.machine_detection import answer_hint
from opencaller.engine.urls import CallbackUrls
from opencaller.simulator.errors import TwilioApiError
from opencaller.simulator.network import parse_create
from opencaller.telephony import AnsweredBy
from opencaller.telephony.errors import InvalidCallbackError
from opencaller.telephony.twilio.callbacks import parse_machine_detection_callback

CALL_SID = "CA" + "2" * 32
BASE_FORM = {"To": ["+15005550006"], "From": ["+15005550199"], "Url": ["https://calls.example.com/answer/1"]}


@pytest.mark.parametrize(
    ("answered_by", "folded", "greeting_ended"),
    [
        ("human", AnsweredBy.HUMAN, False),
        ("machine_start", AnsweredBy.MACHINE, False),
        ("machine_end_beep", AnsweredBy.MACHINE, True),
        ("machine_end_silence", AnsweredBy.MACHINE, True),
        ("machine_end_other", AnsweredBy.MACHINE, True),
        ("fax", AnsweredBy.MACHINE, False),
        ("unknown", AnsweredBy.UNKNOWN, False),
        ("something_new", AnsweredBy.UNKNOWN, False),
    ],
)
def test_every_verdict_is_folded_and_kept_verbatim(answered_by: str, folded: AnsweredBy, greeting_ended: bool) -> None:
    result = parse_machine_detection_callback(
        [("CallSid", CALL_SID), ("AnsweredBy", answered_by), ("MachineDetectionDuration", "2870")]
    )

    assert result.provider_call_id == CALL_SID
    assert result.answered_by is folded
    assert result.answered_by_detail == answered_by
    assert result.greeting_ended is greeting_ended
    assert result.detection_duration_ms == 2870


@pytest.mark.parametrize(
    "params",
    [
        {"AnsweredBy": "human"},
        {"CallSid": CALL_SID},
        {"CallSid": CALL_SID, "AnsweredBy": ""},
        {"CallSid": CALL_SID, "AnsweredBy": "human", "MachineDetectionDuration": "soon"},
    ],
)
def test_a_malformed_verdict_is_refused(params: dict[str, str]) -> None:
    with pytest.raises(InvalidCallbackError):
        parse_machine_detection_callback(params)


@pytest.mark.parametrize(
    ("answered_by", "detail", "answerer", "greeting_ended"),
    [
        ("human", "human", Answerer.HUMAN, False),
        ("machine", "machine_start", Answerer.VOICEMAIL, False),
        ("machine", "machine_end_beep", Answerer.VOICEMAIL, True),
        ("machine", "fax", Answerer.VOICEMAIL, False),
    ],
)
def test_the_verdict_reaches_the_agent_in_its_own_terms(
    answered_by: str, detail: str, answerer: Answerer, greeting_ended: bool
) -> None:
    hint = answer_hint(answered_by, detail)

    assert hint is not None
    assert hint.answerer is answerer
    assert hint.greeting_ended is greeting_ended


@pytest.mark.parametrize("answered_by", ["unknown", None])
def test_an_undecided_verdict_tells_the_agent_nothing(answered_by: str | None) -> None:
    assert answer_hint(answered_by, "unknown") is None


def test_the_verdict_callback_url_names_the_call() -> None:
    urls = CallbackUrls("https://calls.example.com/oc/")

    assert urls.machine_detection("65f0c0ffee0000000000abcd") == (
        "https://calls.example.com/oc/telephony/twilio/amd/65f0c0ffee0000000000abcd"
    )


def test_the_simulator_reads_the_async_detection_parameters() -> None:
    request = parse_create(
        {
            **BASE_FORM,
            "MachineDetection": ["DetectMessageEnd"],
            "AsyncAmd": ["true"],
            "AsyncAmdStatusCallback": ["https://calls.example.com/telephony/twilio/amd/1"],
            "AsyncAmdStatusCallbackMethod": ["POST"],
        }
    )

    assert request.machine_detection == "DetectMessageEnd"
    assert request.async_amd is True
    assert request.async_amd_status_callback == "https://calls.example.com/telephony/twilio/amd/1"
    assert request.async_amd_status_callback_method == "POST"


def test_the_simulator_detects_synchronously_unless_asked_otherwise() -> None:
    request = parse_create({**BASE_FORM, "MachineDetection": ["Enable"]})

    assert request.async_amd is False
    assert request.async_amd_status_callback is None


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("MachineDetection", "Sometimes", 21216),
        ("AsyncAmdStatusCallback", "calls.example.com/amd", 21205),
        ("AsyncAmdStatusCallbackMethod", "PUT", 21205),
    ],
)
def test_the_simulator_refuses_bad_detection_parameters(field: str, value: str, code: int) -> None:
    with pytest.raises(TwilioApiError) as refused:
        parse_create({**BASE_FORM, "MachineDetection": ["Enable"], field: [value]})

    assert refused.value.code == code
