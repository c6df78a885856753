"""One-time stream tokens, and reading them back from a Media Streams ``start`` message."""

from __future__ import annotations

import pytest

from opencaller.telephony import (
    STREAM_TOKEN_PARAMETER,
    mint_stream_token,
    stream_token_digest,
    stream_token_from_parameters,
    stream_token_matches,
)
from opencaller.telephony.errors import InvalidCallbackError
from opencaller.telephony.twilio.callbacks import parse_stream_start


def _start_message(custom_parameters: object) -> dict[str, object]:
    """A ``start`` message shaped like Twilio's (telephony.md §2.3)."""
    return {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ" + "3" * 32,
        "start": {
            "accountSid": "AC" + "0" * 32,
            "streamSid": "MZ" + "3" * 32,
            "callSid": "CA" + "4" * 32,
            "tracks": ["inbound"],
            "customParameters": custom_parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }


def test_minted_tokens_are_unique_and_url_safe() -> None:
    tokens = {mint_stream_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert len(token) >= 43
        assert token.replace("-", "").replace("_", "").isalnum()


def test_only_the_minted_token_matches_its_digest() -> None:
    token = mint_stream_token()
    digest = stream_token_digest(token)
    assert token not in digest
    assert stream_token_matches(token, digest)
    assert not stream_token_matches(mint_stream_token(), digest)
    assert not stream_token_matches(None, digest)
    assert not stream_token_matches("", digest)


def test_token_round_trips_through_the_start_message() -> None:
    token = mint_stream_token()
    start = parse_stream_start(_start_message({STREAM_TOKEN_PARAMETER: token, "callId": "c1"}))
    assert start.stream_id == "MZ" + "3" * 32
    assert start.provider_call_id == "CA" + "4" * 32
    assert start.account_id == "AC" + "0" * 32
    assert (start.encoding, start.sample_rate, start.channels) == ("audio/x-mulaw", 8000, 1)
    assert stream_token_from_parameters(start.custom_parameters) == token
    assert start.custom_parameters["callId"] == "c1"


def test_missing_token_reads_as_none() -> None:
    start = parse_stream_start(_start_message({}))
    assert stream_token_from_parameters(start.custom_parameters) is None
    assert stream_token_from_parameters({STREAM_TOKEN_PARAMETER: ""}) is None


@pytest.mark.parametrize(
    "message",
    [
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        {"event": "start"},
        {"event": "start", "start": {"streamSid": "MZ1"}},
        _start_message(["not", "an", "object"]),
        {**_start_message({}), "start": {**_start_message({})["start"], "mediaFormat": {"sampleRate": "fast"}}},  # type: ignore[dict-item]
    ],
)
def test_malformed_start_messages_are_rejected(message: dict[str, object]) -> None:
    with pytest.raises(InvalidCallbackError):
        parse_stream_start(message)
