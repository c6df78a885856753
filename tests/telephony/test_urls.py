"""Base-URL handling: the public callback URL behind a proxy, and the REST base-URL override."""

from __future__ import annotations

import pytest

from opencaller.telephony import public_callback_url
from opencaller.telephony.twilio.http_client import RebasingHttpClient

CALLS = "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json"


@pytest.mark.parametrize(
    ("base", "path", "query", "expected"),
    [
        ("https://calls.example.com", "/t/status", "", "https://calls.example.com/t/status"),
        ("https://calls.example.com/", "t/status", "a=1&b=%20", "https://calls.example.com/t/status?a=1&b=%20"),
        ("https://calls.example.com/oc", "/t/status", "", "https://calls.example.com/oc/t/status"),
        ("http://127.0.0.1:8000", "/t", "x=1", "http://127.0.0.1:8000/t?x=1"),
    ],
)
def test_public_callback_url(base: str, path: str, query: str, expected: str) -> None:
    assert public_callback_url(base, path, query) == expected


@pytest.mark.parametrize("base", ["calls.example.com", "ftp://calls.example.com", "https://calls.example.com/?a=1"])
def test_public_base_url_must_be_plain_http(base: str) -> None:
    with pytest.raises(ValueError):
        public_callback_url(base, "/t")


async def test_default_base_url_leaves_twilio_urls_alone() -> None:
    client = RebasingHttpClient()
    assert client.rebase(CALLS) == CALLS
    await client.aclose()


async def test_override_rewrites_twilio_origins_only() -> None:
    client = RebasingHttpClient("http://127.0.0.1:8765/sim/")
    assert client.rebase(CALLS) == "http://127.0.0.1:8765/sim/2010-04-01/Accounts/AC1/Calls.json"
    assert client.rebase("https://api.us1.twilio.com/x.json?a=1") == "http://127.0.0.1:8765/sim/x.json?a=1"
    assert client.rebase("https://example.com/x") == "https://example.com/x"
    assert client.rebase("https://nottwilio.com/x") == "https://nottwilio.com/x"
    await client.aclose()


@pytest.mark.parametrize("base", ["127.0.0.1:8765", "ws://127.0.0.1:8765", "http://127.0.0.1:8765/?x=1"])
def test_unusable_base_urls_are_refused(base: str) -> None:
    with pytest.raises(ValueError):
        RebasingHttpClient(base)
