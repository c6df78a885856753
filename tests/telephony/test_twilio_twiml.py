"""The ``<Connect><Stream>`` answer: structure, escaping, and the URLs and parameters Twilio would refuse."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest

from opencaller.telephony import STREAM_TOKEN_PARAMETER, mint_stream_token
from opencaller.telephony.twilio import TwilioConfig, TwilioProvider
from opencaller.telephony.twilio.twiml import media_stream_answer


@pytest.fixture
async def provider() -> AsyncIterator[TwilioProvider]:
    """A provider used only for its pure methods; no request is sent."""
    async with TwilioProvider(TwilioConfig(account_sid="AC" + "0" * 32, auth_token="t")) as twilio:
        yield twilio


def test_answer_connects_a_bidirectional_stream_with_parameters(provider: TwilioProvider) -> None:
    token = mint_stream_token()
    xml = provider.media_stream_answer(
        "wss://agent.example.com/telephony/twilio/media", {STREAM_TOKEN_PARAMETER: token, "callId": "c1"}
    )

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    [connect] = list(root)
    assert connect.tag == "Connect"
    [stream] = list(connect)
    assert stream.tag == "Stream"
    assert stream.attrib == {"url": "wss://agent.example.com/telephony/twilio/media"}
    parameters = [(p.tag, p.attrib["name"], p.attrib["value"]) for p in stream]
    assert parameters == [("Parameter", STREAM_TOKEN_PARAMETER, token), ("Parameter", "callId", "c1")]
    assert provider.answer_content_type == "text/xml"


def test_values_are_escaped() -> None:
    xml = media_stream_answer("wss://a.example.com/m", {"note": 'a&b<"c">'})
    [parameter] = ET.fromstring(xml).iter("Parameter")
    assert parameter.attrib["value"] == 'a&b<"c">'


def test_stream_status_callback() -> None:
    xml = media_stream_answer("wss://a.example.com/m", {}, status_callback_url="https://a.example.com/stream-status")
    [stream] = ET.fromstring(xml).iter("Stream")
    assert stream.attrib == {
        "url": "wss://a.example.com/m",
        "statusCallback": "https://a.example.com/stream-status",
        "statusCallbackMethod": "POST",
    }
    assert list(stream) == []


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8000/media", "ws://localhost/media", "wss://a.example.com:8443/m"])
def test_accepted_stream_urls(url: str) -> None:
    [stream] = ET.fromstring(media_stream_answer(url, {})).iter("Stream")
    assert stream.attrib["url"] == url


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example.com/m",
        "ws://a.example.com/m",
        "wss://a.example.com/m?token=abc",
        "wss://a.example.com/m?",
        "wss://a.example.com/m#frag",
        "wss:///m",
        "/relative/m",
    ],
)
def test_refused_stream_urls(url: str) -> None:
    with pytest.raises(ValueError):
        media_stream_answer(url, {})


def test_parameter_length_limit() -> None:
    name = "callToken"
    fits = "x" * (499 - len(name))
    media_stream_answer("wss://a.example.com/m", {name: fits})
    with pytest.raises(ValueError):
        media_stream_answer("wss://a.example.com/m", {name: fits + "x"})
    with pytest.raises(ValueError):
        media_stream_answer("wss://a.example.com/m", {"": "v"})
