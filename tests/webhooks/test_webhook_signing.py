"""Standard Webhooks signing: what a receiver using the ``standardwebhooks`` package sees."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from opencaller.webhooks.signing import (
    InvalidWebhookSecret,
    build_headers,
    generate_secret,
    new_message_id,
    redact_headers,
    sign,
    signing_key,
    standard_secret,
    validate_secret,
    verify,
)
from opencaller.webhooks.signing import (
    WebhookVerificationError as OurVerificationError,
)

AICALLER_SECRET = "NjUyOTgwMjkpJU0NmY25yzWkJFWDBE12"
BODY = b'{"data":{"_id":"65a1b2c3d4e5f60718293a4b","status":"completed"},"event":"phoneCall.completed"}'


def test_generated_secrets_are_standard_and_unique() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_") and second.startswith("whsec_")
    assert first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_generated_secret_verifies_with_standardwebhooks() -> None:
    secret = generate_secret()
    now = int(time.time())
    headers = build_headers(secret, "msg_1", now, BODY)
    assert Webhook(secret).verify(BODY, headers)["event"] == "phoneCall.completed"
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(now)


def test_signature_equals_the_reference_implementation_for_any_bytes() -> None:
    secret = generate_secret()
    body = bytes(range(256))  # not UTF-8: the exact bytes are signed
    stamp = 1_700_000_000
    expected = Webhook(secret).sign("msg_bin", datetime.fromtimestamp(stamp, UTC), body)
    assert sign(secret, "msg_bin", stamp, body) == expected


def test_client_secret_is_keyed_verbatim_and_verifies_with_standardwebhooks() -> None:
    now = int(time.time())
    headers = build_headers(AICALLER_SECRET, "msg_2", now, BODY)
    assert signing_key(AICALLER_SECRET) == AICALLER_SECRET.encode()
    # The receiver hands the library the secret's bytes, or the equivalent whsec_ form.
    Webhook(AICALLER_SECRET.encode()).verify(BODY, headers)
    Webhook(standard_secret(AICALLER_SECRET)).verify(BODY, headers)
    # The documented pitfall: the bare string is base64-decoded by the library, a different key.
    with pytest.raises(WebhookVerificationError):
        Webhook(AICALLER_SECRET).verify(BODY, headers)


def test_any_client_string_works_as_a_secret() -> None:
    secret = "pa$$ word ✓ not base64!"
    headers = build_headers(secret, "msg_3", int(time.time()), BODY)
    Webhook(secret.encode("utf-8")).verify(BODY, headers)
    Webhook(standard_secret(secret)).verify(BODY, headers)


def test_whsec_secret_keeps_its_standard_form() -> None:
    secret = generate_secret()
    assert standard_secret(secret) == secret
    assert signing_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))


def test_unpadded_whsec_secret_is_accepted_like_the_library_does() -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdefghijklmnopq").decode().rstrip("=")
    headers = build_headers(secret, "msg_4", int(time.time()), BODY)
    Webhook(secret).verify(BODY, headers)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", "whsec_@@@@", "x" * 1025])
def test_unusable_secrets_are_refused(secret: str) -> None:
    with pytest.raises(InvalidWebhookSecret):
        validate_secret(secret)
    with pytest.raises(InvalidWebhookSecret):
        sign(secret, "msg_5", 1, BODY)


def test_tampered_body_fails_verification() -> None:
    secret = generate_secret()
    now = int(time.time())
    headers = build_headers(secret, "msg_6", now, BODY)
    tampered = BODY.replace(b"completed", b"cancelled", 1)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(OurVerificationError, match="no matching signature"):
        verify(secret, headers, tampered, now=now)


def test_old_and_future_timestamps_fail_verification() -> None:
    secret = generate_secret()
    now = int(time.time())
    old = build_headers(secret, "msg_7", now - 600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, old)
    with pytest.raises(OurVerificationError, match="too old"):
        verify(secret, old, BODY, now=now)
    future = build_headers(secret, "msg_8", now + 600, BODY)
    with pytest.raises(OurVerificationError, match="too new"):
        verify(secret, future, BODY, now=now)


def test_verify_accepts_a_valid_delivery_and_one_of_several_signatures() -> None:
    old_secret, new_secret = generate_secret(), generate_secret()
    headers = build_headers(new_secret, "msg_9", 1_000, BODY)
    verify(new_secret, headers, BODY, now=1_100)
    rotated = dict(headers)
    rotated["webhook-signature"] = f"{sign(old_secret, 'msg_9', 1_000, BODY)} {headers['webhook-signature']}"
    verify(new_secret, rotated, BODY, now=1_000)
    verify(old_secret, rotated, BODY, now=1_000)
    with pytest.raises(OurVerificationError):
        verify(generate_secret(), rotated, BODY, now=1_000)


def test_verify_refuses_missing_or_malformed_headers() -> None:
    secret = generate_secret()
    headers = build_headers(secret, "msg_10", 1_000, BODY)
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {name: value for name, value in headers.items() if name != missing}
        with pytest.raises(OurVerificationError, match="missing"):
            verify(secret, partial, BODY, now=1_000)
    with pytest.raises(OurVerificationError, match="integer"):
        verify(secret, {**headers, "webhook-timestamp": "1e3"}, BODY, now=1_000)


def test_header_names_are_matched_case_insensitively() -> None:
    secret = generate_secret()
    headers = build_headers(secret, "msg_11", 1_000, BODY)
    verify(secret, {name.title(): value for name, value in headers.items()}, BODY, now=1_000)


def test_message_ids_are_prefixed_unique_and_header_safe() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    for msg_id in ids:
        assert msg_id.startswith("msg_")
        assert msg_id.isascii() and msg_id.isprintable() and " " not in msg_id


@pytest.mark.parametrize("msg_id", ["", "msg 1", "msg_\n1", "msg_ü"])
def test_sign_refuses_ids_that_cannot_travel_in_a_header(msg_id: str) -> None:
    with pytest.raises(ValueError, match="message id"):
        sign(generate_secret(), msg_id, 1, BODY)


@pytest.mark.parametrize("timestamp", [-1, True])
def test_sign_refuses_bad_timestamps(timestamp: int) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        sign(generate_secret(), "msg_12", timestamp, BODY)


def test_redacted_headers_hide_the_signature() -> None:
    secret = generate_secret()
    headers = build_headers(secret, "msg_13", 1_000, BODY)
    redacted = redact_headers(headers)
    assert headers["webhook-signature"] not in str(redacted)
    assert redacted["webhook-id"] == "msg_13"
