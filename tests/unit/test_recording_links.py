"""Signed recording links: only the exact link the server minted opens the recording, and only until it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from opencaller.engine.recording_links import RecordingLinks, link_signing_key, sign
from opencaller.errors import Forbidden
from opencaller.settings import Settings

CALL = "65f0c0ffee0000000000abcd"
OTHER_CALL = "65f0c0ffee0000000000abce"
NOW = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)


def _links(now: datetime = NOW, lifetime: int = 86400, key: bytes = b"k" * 32) -> RecordingLinks:
    return RecordingLinks(key, "https://calls.example.com/", lifetime, clock=lambda: now)


def _query(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, query["expires"][0], query["signature"][0]


def test_a_link_is_absolute_and_opens_its_recording() -> None:
    links = _links()
    url = links.url(CALL)
    path, expires, signature = _query(url)

    assert url.startswith("https://calls.example.com/v1/phoneCalls/")
    assert path == f"/v1/phoneCalls/{CALL}/recording"
    links.check(CALL, expires, signature)  # no exception: accepted


def test_a_link_lives_at_least_its_lifetime_and_at_most_an_hour_more() -> None:
    _, expires, _ = _query(_links().url(CALL))

    lifetime_end = NOW + timedelta(days=1)
    assert lifetime_end.timestamp() <= int(expires) <= (lifetime_end + timedelta(hours=1)).timestamp()
    assert int(expires) % 3600 == 0


def test_reading_the_call_again_soon_gives_the_same_link() -> None:
    assert _links().url(CALL) == _links(NOW + timedelta(minutes=5)).url(CALL)


@pytest.mark.parametrize(
    ("call_id", "expires", "signature"),
    [
        (OTHER_CALL, None, None),  # another call's id with this call's signature
        (CALL, "+1", None),  # a later expiry with the old signature
        (CALL, None, "A"),  # one character of the signature changed
        (CALL, None, ""),
        (CALL, "", None),
        (CALL, "-5", None),
        (CALL, "12e3", None),
        (CALL, "9" * 40, None),
        (CALL, None, "é" * 43),
    ],
)
def test_a_tampered_link_is_refused(call_id: str, expires: str | None, signature: str | None) -> None:
    links = _links()
    _, good_expires, good_signature = _query(links.url(CALL))
    if expires == "+1":
        expires = str(int(good_expires) + 3600)
    if signature == "A":
        signature = ("B" if good_signature[0] == "A" else "A") + good_signature[1:]

    with pytest.raises(Forbidden, match="not valid"):
        links.check(
            call_id, good_expires if expires is None else expires, good_signature if signature is None else signature
        )


def test_an_expired_link_is_refused_even_though_its_signature_is_right() -> None:
    links = _links()
    _, expires, signature = _query(links.url(CALL))

    later = _links(datetime.fromtimestamp(int(expires) + 1, UTC))

    with pytest.raises(Forbidden, match="expired"):
        later.check(CALL, expires, signature)
    _links(datetime.fromtimestamp(int(expires), UTC)).check(CALL, expires, signature)  # the last second still works


def test_a_link_signed_with_another_key_is_refused() -> None:
    _, expires, signature = _query(_links(key=b"a" * 32).url(CALL))

    with pytest.raises(Forbidden):
        _links(key=b"b" * 32).check(CALL, expires, signature)


def test_the_link_key_comes_from_the_server_secret_but_is_not_it(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path, secret_key=SecretStr("secret one"))
    same = Settings(data_dir=tmp_path, secret_key=SecretStr("secret one"))
    two = Settings(data_dir=tmp_path, secret_key=SecretStr("secret two"))

    assert link_signing_key(one) == link_signing_key(same)
    assert link_signing_key(one) != link_signing_key(two)
    assert b"secret one" not in link_signing_key(one)
    assert sign(link_signing_key(one), CALL, 1) != sign(b"secret one", CALL, 1)


def test_without_a_configured_secret_the_data_dir_key_signs(tmp_path: Path) -> None:
    first = link_signing_key(Settings(data_dir=tmp_path))

    assert first == link_signing_key(Settings(data_dir=tmp_path)), "a restart must not invalidate every link"


def test_the_public_url_setting_wins_over_the_request_host(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path, secret_key=SecretStr("s"), public_url="https://calls.example.com")

    assert (
        RecordingLinks.from_settings(configured, "http://10.0.0.7:8000/")
        .url(CALL)
        .startswith("https://calls.example.com/v1/")
    )
    bare = Settings(data_dir=tmp_path, secret_key=SecretStr("s"))
    assert RecordingLinks.from_settings(bare, "http://10.0.0.7:8000/").url(CALL).startswith("http://10.0.0.7:8000/v1/")
