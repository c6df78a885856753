"""TwilioProvider against a Twilio-shaped HTTP server on loopback: exact wire format and error mapping."""

from __future__ import annotations

import base64
import socket

import pytest

from opencaller.domain.status import CallStatus
from opencaller.telephony import PlaceCallRequest
from opencaller.telephony.errors import (
    AuthenticationError,
    InvalidNumberError,
    OutcomeUnknownError,
    PermanentTelephonyError,
    ProviderUnavailableError,
    RateLimitedError,
    RetryableTelephonyError,
)
from opencaller.telephony.twilio import TwilioConfig, TwilioProvider
from tests.telephony.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    INVALID_NUMBER,
    NEVER_ANSWERS_NUMBER,
    RATE_LIMITED_NUMBER,
    SERVER_ERROR_NUMBER,
    FakeTwilio,
    ProviderFactory,
)

CALLS_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
BASIC_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


def _request(to: str = "+14155550100", **overrides: object) -> PlaceCallRequest:
    fields: dict[str, object] = {
        "to_number": to,
        "from_number": "+14155550199",
        "answer_url": "https://calls.example.com/telephony/twilio/answer/c1",
        "status_callback_url": "https://calls.example.com/telephony/twilio/status/c1",
        "timeout_seconds": 25,
    }
    fields.update(overrides)
    return PlaceCallRequest(**fields)  # type: ignore[arg-type]


async def test_place_call_sends_twilios_documented_form(provider: TwilioProvider, fake_twilio: FakeTwilio) -> None:
    placed = await provider.place_call(_request())

    assert placed.provider_call_id.startswith("CA") and len(placed.provider_call_id) == 34
    assert placed.status is CallStatus.QUEUED
    assert placed.provider_status == "queued"
    [sent] = fake_twilio.requests
    assert (sent.method, sent.path) == ("POST", CALLS_PATH)
    assert sent.authorization == BASIC_AUTH
    assert sent.content_type == "application/x-www-form-urlencoded"
    assert sorted(sent.form) == sorted(
        [
            ("To", "+14155550100"),
            ("From", "+14155550199"),
            ("Url", "https://calls.example.com/telephony/twilio/answer/c1"),
            ("Method", "POST"),
            ("StatusCallback", "https://calls.example.com/telephony/twilio/status/c1"),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", "25"),
        ]
    )


async def test_place_call_with_recording_and_async_machine_detection(
    provider: TwilioProvider, fake_twilio: FakeTwilio
) -> None:
    await provider.place_call(
        _request(
            record=True,
            recording_callback_url="https://calls.example.com/rec/c1",
            machine_detection=True,
            machine_detection_callback_url="https://calls.example.com/amd/c1",
            max_duration_seconds=900,
        )
    )

    [sent] = fake_twilio.requests
    extra = [pair for pair in sent.form if pair[0] not in {"To", "From", "Url", "Method", "Timeout"}]
    assert sorted(extra) == sorted(
        [
            ("StatusCallback", "https://calls.example.com/telephony/twilio/status/c1"),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("TimeLimit", "900"),
            ("Record", "true"),
            ("RecordingChannels", "dual"),
            ("RecordingStatusCallback", "https://calls.example.com/rec/c1"),
            ("RecordingStatusCallbackMethod", "POST"),
            ("RecordingStatusCallbackEvent", "completed"),
            ("RecordingStatusCallbackEvent", "absent"),
            ("MachineDetection", "DetectMessageEnd"),
            ("AsyncAmd", "true"),
            ("AsyncAmdStatusCallback", "https://calls.example.com/amd/c1"),
            ("AsyncAmdStatusCallbackMethod", "POST"),
        ]
    )


async def test_fetch_hang_up_and_cancel_use_the_call_resource(
    provider: TwilioProvider, fake_twilio: FakeTwilio
) -> None:
    placed = await provider.place_call(_request())
    call_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{placed.provider_call_id}.json"

    state = await provider.fetch_call(placed.provider_call_id)
    assert state is not None
    assert state.provider_call_id == placed.provider_call_id
    assert state.status is CallStatus.QUEUED

    assert await provider.cancel(placed.provider_call_id) is True
    fetched_after = await provider.fetch_call(placed.provider_call_id)
    assert fetched_after is not None and fetched_after.status is CallStatus.CANCELLED

    fetch, cancel = fake_twilio.requests[1], fake_twilio.requests[2]
    assert (fetch.method, fetch.path, fetch.authorization, fetch.form) == ("GET", call_path, BASIC_AUTH, [])
    assert (cancel.method, cancel.path, cancel.authorization) == ("POST", call_path, BASIC_AUTH)
    assert cancel.form == [("Status", "canceled")]


async def test_hang_up_sends_status_completed_and_is_idempotent(
    provider: TwilioProvider, fake_twilio: FakeTwilio
) -> None:
    placed = await provider.place_call(_request())

    assert await provider.hang_up(placed.provider_call_id) is True
    assert fake_twilio.requests[-1].form == [("Status", "completed")]
    # Twilio answers 404/20404 for a call that is over: hanging up twice is not an error.
    assert await provider.hang_up(placed.provider_call_id) is False


async def test_unknown_call_is_none_for_fetch_and_false_for_hang_up(provider: TwilioProvider) -> None:
    unknown = "CA" + "f" * 32
    assert await provider.fetch_call(unknown) is None
    assert await provider.hang_up(unknown) is False


async def test_invalid_number_21211_is_permanent(provider: TwilioProvider) -> None:
    with pytest.raises(InvalidNumberError) as caught:
        await provider.place_call(_request(to=INVALID_NUMBER))
    assert caught.value.provider_code == 21211
    assert caught.value.provider_http_status == 400
    assert isinstance(caught.value, PermanentTelephonyError)
    assert not caught.value.retryable


async def test_wrong_credentials_raise_authentication_error(
    fake_twilio: FakeTwilio, make_provider: ProviderFactory
) -> None:
    bad = make_provider(auth_token="wrong", api_base_url=fake_twilio.base_url)
    with pytest.raises(AuthenticationError) as caught:
        await bad.place_call(_request())
    assert caught.value.provider_code == 20003
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("to", "error", "code"),
    [(RATE_LIMITED_NUMBER, RateLimitedError, 20429), (SERVER_ERROR_NUMBER, ProviderUnavailableError, 20500)],
)
async def test_rate_limits_and_server_errors_are_retryable(
    provider: TwilioProvider, to: str, error: type[RetryableTelephonyError], code: int
) -> None:
    with pytest.raises(error) as caught:
        await provider.place_call(_request(to=to))
    assert caught.value.retryable
    assert caught.value.provider_code == code


async def test_unreachable_api_is_retryable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = TwilioConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=f"http://127.0.0.1:{port}")
    async with TwilioProvider(config) as unreachable:
        with pytest.raises(ProviderUnavailableError) as caught:
            await unreachable.place_call(_request())
    assert caught.value.retryable


async def test_timeout_after_sending_is_outcome_unknown(
    fake_twilio: FakeTwilio, make_provider: ProviderFactory
) -> None:
    slow = make_provider(api_base_url=fake_twilio.base_url, request_timeout_seconds=0.3)
    with pytest.raises(OutcomeUnknownError) as caught:
        await slow.place_call(_request(to=NEVER_ANSWERS_NUMBER))
    assert not caught.value.retryable
    assert [r.path for r in fake_twilio.requests] == [CALLS_PATH]  # the request did reach the provider


async def test_base_url_with_path_prefix(fake_twilio: FakeTwilio, make_provider: ProviderFactory) -> None:
    prefixed = make_provider(api_base_url=fake_twilio.base_url + "/prefix/")
    placed = await prefixed.place_call(_request())
    assert placed.status is CallStatus.QUEUED
    assert [r.path for r in fake_twilio.requests] == ["/prefix" + CALLS_PATH]


async def test_api_key_credentials_authenticate_rest_requests(
    fake_twilio: FakeTwilio, make_provider: ProviderFactory
) -> None:
    keyed = make_provider(
        auth_token="unused-for-rest",
        api_base_url=fake_twilio.base_url,
        api_key_sid="SK" + "1" * 32,
        api_key_secret="key-secret",
    )
    with pytest.raises(AuthenticationError):
        await keyed.place_call(_request())
    [sent] = fake_twilio.requests
    assert sent.path == CALLS_PATH  # the account in the path, the key in the credentials
    assert sent.authorization == "Basic " + base64.b64encode(f"SK{'1' * 32}:key-secret".encode()).decode()


async def test_default_base_url_never_leaves_the_loopback_guard(make_provider: ProviderFactory) -> None:
    """Without an override the SDK targets api.twilio.com: proven here by the guard refusing it, offline."""
    default = make_provider()
    with pytest.raises(AssertionError, match=r"api\.twilio\.com"):
        await default.place_call(_request())


async def test_synchronous_machine_detection_without_a_callback_url(
    provider: TwilioProvider, fake_twilio: FakeTwilio
) -> None:
    await provider.place_call(_request(machine_detection=True, record=True))
    [sent] = fake_twilio.requests
    names = [name for name, _ in sent.form]
    assert ("MachineDetection", "DetectMessageEnd") in sent.form
    assert ("Record", "true") in sent.form
    assert not {"AsyncAmd", "AsyncAmdStatusCallback", "RecordingStatusCallback"} & set(names)


def test_config_repr_hides_secrets() -> None:
    config = TwilioConfig(
        account_sid=ACCOUNT_SID, auth_token="s3cret-token", api_key_secret="s3cret-key", webhook_shared_key="s3cret-sk"
    )
    assert ACCOUNT_SID in repr(config)
    assert "s3cret" not in repr(config)
