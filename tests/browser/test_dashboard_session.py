"""The dashboard's session cookie on its own: what unsealing accepts and what it refuses."""

from __future__ import annotations

from opencaller.dashboard.session import MAX_AGE_SECONDS, new_session, seal, unseal
from opencaller.engine.credentials import CredentialCipher

CIPHER = CredentialCipher("server-secret")


def test_a_sealed_session_comes_back_as_it_went() -> None:
    session = new_session(now=1_000.0).signed_in_as("0123456789abcdef01234567")
    back = unseal(seal(session, CIPHER), CIPHER, now=1_001.0)
    assert back == session
    assert back is not None and back.key_id == "0123456789abcdef01234567"


def test_signing_in_replaces_the_csrf_token() -> None:
    anonymous = new_session()
    assert anonymous.signed_in_as("0123456789abcdef01234567").csrf_token != anonymous.csrf_token


def test_an_expired_session_is_refused() -> None:
    sealed = seal(new_session(now=1_000.0), CIPHER)
    assert unseal(sealed, CIPHER, now=1_000.0 + MAX_AGE_SECONDS - 1) is not None
    assert unseal(sealed, CIPHER, now=1_000.0 + MAX_AGE_SECONDS) is None


def test_another_servers_cookie_or_other_sealed_data_is_refused() -> None:
    assert unseal(seal(new_session(), CredentialCipher("another-secret")), CIPHER) is None
    assert unseal(CIPHER.encrypt({"twilio": {"authToken": "x"}}), CIPHER) is None, "credentials are not a session"
    for garbage in ("", "x", "gAAAAA" + "A" * 100, "é" * 50, "A" * 5000):
        assert unseal(garbage, CIPHER) is None
