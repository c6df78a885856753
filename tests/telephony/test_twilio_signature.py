"""Webhook signature checks: Twilio's published test vector, forgeries, proxies, SharedKey and JSON bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from opencaller.telephony import CallbackRequest, public_callback_url
from opencaller.telephony.twilio import TwilioConfig, TwilioProvider

VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def _provider(auth_token: str = VECTOR_TOKEN, shared_key: str | None = None) -> TwilioProvider:
    return TwilioProvider(
        TwilioConfig(account_sid="AC" + "0" * 32, auth_token=auth_token, webhook_shared_key=shared_key)
    )


def _sign(key: str, url: str, pairs: list[tuple[str, str]], digest: str = "sha1") -> str:
    """Twilio's documented scheme, written out independently of the SDK: URL + sorted name+value pairs."""
    message = url + "".join(name + value for name, value in sorted(pairs))
    return base64.b64encode(hmac.new(key.encode(), message.encode(), digest).digest()).decode()


async def test_published_vector_verifies() -> None:
    async with _provider() as provider:
        request = CallbackRequest(VECTOR_URL, VECTOR_PARAMS, {"X-Twilio-Signature": VECTOR_SIGNATURE})
        assert provider.verify_callback(request)


async def test_independent_signer_reproduces_the_vector() -> None:
    assert _sign(VECTOR_TOKEN, VECTOR_URL, list(VECTOR_PARAMS.items())) == VECTOR_SIGNATURE


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(
            CallbackRequest(VECTOR_URL, VECTOR_PARAMS, {"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ!"}),
            id="forged-signature",
        ),
        pytest.param(
            CallbackRequest(VECTOR_URL, {**VECTOR_PARAMS, "Digits": "9999"}, {"X-Twilio-Signature": VECTOR_SIGNATURE}),
            id="tampered-field",
        ),
        pytest.param(
            CallbackRequest(VECTOR_URL, {**VECTOR_PARAMS, "Extra": "1"}, {"X-Twilio-Signature": VECTOR_SIGNATURE}),
            id="added-field",
        ),
        pytest.param(
            CallbackRequest(
                "https://mycompany.com/myapp.php?foo=1&bar=3", VECTOR_PARAMS, {"X-Twilio-Signature": VECTOR_SIGNATURE}
            ),
            id="other-query",
        ),
        pytest.param(CallbackRequest(VECTOR_URL, VECTOR_PARAMS, {}), id="no-signature-header"),
        pytest.param(
            CallbackRequest(VECTOR_URL, VECTOR_PARAMS, {"X-Twilio-Signature": ""}), id="empty-signature-header"
        ),
    ],
)
async def test_rejects_anything_but_the_signed_request(request_: CallbackRequest) -> None:
    async with _provider() as provider:
        assert not provider.verify_callback(request_)


async def test_wrong_auth_token_rejects() -> None:
    async with _provider(auth_token="54321") as provider:
        request = CallbackRequest(VECTOR_URL, VECTOR_PARAMS, {"X-Twilio-Signature": VECTOR_SIGNATURE})
        assert not provider.verify_callback(request)


async def test_header_name_is_case_insensitive() -> None:
    async with _provider() as provider:
        request = CallbackRequest(VECTOR_URL, VECTOR_PARAMS, {"x-twilio-signature": VECTOR_SIGNATURE})
        assert provider.verify_callback(request)


async def test_behind_a_proxy_only_the_public_url_verifies() -> None:
    """Twilio signs the public URL; the app sees an internal one and must rebuild the public one."""
    token = "proxy-token"
    public = "https://calls.example.com/opencaller/telephony/twilio/status/c1?attempt=2"
    params = [("CallSid", "CA" + "a" * 32), ("CallStatus", "ringing"), ("SequenceNumber", "1")]
    headers = {"X-Twilio-Signature": _sign(token, public, params)}
    internal = "http://10.0.0.7:8000/telephony/twilio/status/c1?attempt=2"
    rebuilt = public_callback_url("https://calls.example.com/opencaller/", "/telephony/twilio/status/c1", "attempt=2")
    assert rebuilt == public
    async with _provider(auth_token=token) as provider:
        assert not provider.verify_callback(CallbackRequest(internal, params, headers))
        assert provider.verify_callback(CallbackRequest(rebuilt, params, headers))


async def test_default_port_in_the_signed_url_is_tolerated() -> None:
    token = "port-token"
    params = [("CallSid", "CA" + "b" * 32), ("CallStatus", "completed")]
    signed_with_port = _sign(token, "https://calls.example.com:443/status", params)
    async with _provider(auth_token=token) as provider:
        request = CallbackRequest("https://calls.example.com/status", params, {"X-Twilio-Signature": signed_with_port})
        assert provider.verify_callback(request)


async def test_repeated_fields_are_all_signed() -> None:
    token = "repeat-token"
    params = [("CallSid", "CA" + "c" * 32), ("Event", "b"), ("Event", "a")]
    headers = {"X-Twilio-Signature": _sign(token, "https://x.example.com/cb", params)}
    async with _provider(auth_token=token) as provider:
        assert provider.verify_callback(CallbackRequest("https://x.example.com/cb", params, headers))
        assert not provider.verify_callback(CallbackRequest("https://x.example.com/cb", params[:2], headers))


async def test_shared_key_hmac_sha256_signatures() -> None:
    shared = "shared-key-secret"
    params = [("CallSid", "CA" + "d" * 32), ("CallStatus", "busy")]
    url = "https://calls.example.com/status"
    headers = {
        "X-Twilio-Signature": _sign(shared, url, params, digest="sha256"),
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }
    async with (
        _provider(auth_token="auth-token", shared_key=shared) as with_key,
        _provider(auth_token="auth-token") as without_key,
    ):
        assert with_key.verify_callback(CallbackRequest(url, params, headers))
        assert not without_key.verify_callback(CallbackRequest(url, params, headers))


async def test_json_body_signed_through_body_sha256() -> None:
    token = "json-token"
    body = b'{"CallSid":"CA1","CallStatus":"completed"}'
    url = "https://calls.example.com/json-cb?bodySHA256=" + hashlib.sha256(body).hexdigest()
    headers = {"X-Twilio-Signature": _sign(token, url, [])}
    async with _provider(auth_token=token) as provider:
        assert provider.verify_callback(CallbackRequest(url, (), headers, body))
        assert not provider.verify_callback(CallbackRequest(url, (), headers, body.replace(b"completed", b"failed")))
