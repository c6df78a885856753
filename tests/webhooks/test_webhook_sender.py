"""Delivery over real HTTP on loopback: signatures checked by a ``standardwebhooks`` receiver, outcome
classification, redirects, timeouts, DNS rebinding and TLS name checks."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook
from structlog.testing import capture_logs

from opencaller.domain.status import CallStatus
from opencaller.webhooks.events import build_payload, events_for_status
from opencaller.webhooks.sender import DeliveryOutcome, PinnedTransport, send
from opencaller.webhooks.signing import build_headers, generate_secret, new_message_id
from opencaller.webhooks.url_safety import parse_target_url

from .conftest import StartReceiver
from .tls import TestAuthority

CALL = {"_id": "65a1b2c3d4e5f60718293a4b", "status": "completed", "toPhoneNumber": "+14155550100"}


def signed(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers for ``body`` signed now (or at ``timestamp``)."""
    return build_headers(secret, new_message_id(), int(time.time()) if timestamp is None else timestamp, body)


class ScriptedResolver:
    """An injected DNS that answers from a script (the last answer repeats) and counts the questions."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def test_every_delivery_verifies_with_standardwebhooks(start_receiver: StartReceiver) -> None:
    secret = generate_secret()
    receiver = await start_receiver(verify_with=Webhook(secret))
    bodies = [build_payload(event, CALL) for event in events_for_status(CallStatus.COMPLETED)]
    for body in bodies:
        result = await send(receiver.url(), signed(secret, body), body, allow_private=True)
        assert result.outcome is DeliveryOutcome.DELIVERED and result.delivered
        assert (result.status_code, result.error) == (204, None)
        assert result.latency_ms >= 0
    assert [request.body for request in receiver.requests] == bodies
    assert all(request.verified for request in receiver.requests)
    assert receiver.requests[0].method == "POST" and receiver.requests[0].path == "/hook"
    assert receiver.requests[0].headers["content-type"] == "application/json"


async def test_client_supplied_secret_verifies_with_its_bytes(start_receiver: StartReceiver) -> None:
    secret = "NjUyOTgwMjkpJU0NmY25yzWkJFWDBE12"
    receiver = await start_receiver(verify_with=Webhook(secret.encode()))
    body = build_payload("phoneCall.completed", CALL)
    result = await send(receiver.url(), signed(secret, body), body, allow_private=True)
    assert result.delivered and receiver.requests[0].verified


async def test_tampered_body_is_rejected_by_the_receiver(start_receiver: StartReceiver) -> None:
    secret = generate_secret()
    receiver = await start_receiver(verify_with=Webhook(secret))
    body = build_payload("phoneCall.completed", CALL)
    headers = signed(secret, body)
    tampered = body.replace(b"+14155550100", b"+14155550199")
    result = await send(receiver.url(), headers, tampered, allow_private=True)
    assert result.outcome is DeliveryOutcome.RETRYABLE and result.status_code == 401
    assert receiver.requests[0].verified is False
    assert receiver.requests[0].verification_error == "No matching signature found"


async def test_old_timestamp_is_rejected_by_the_receiver(start_receiver: StartReceiver) -> None:
    secret = generate_secret()
    receiver = await start_receiver(verify_with=Webhook(secret))
    body = build_payload("phoneCall.completed", CALL)
    result = await send(
        receiver.url(), signed(secret, body, timestamp=int(time.time()) - 600), body, allow_private=True
    )
    assert result.status_code == 401 and not result.delivered
    assert receiver.requests[0].verification_error == "Message timestamp too old"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, DeliveryOutcome.DELIVERED),
        (202, DeliveryOutcome.DELIVERED),
        (410, DeliveryOutcome.GONE),
        (400, DeliveryOutcome.RETRYABLE),
        (404, DeliveryOutcome.RETRYABLE),
        (429, DeliveryOutcome.RETRYABLE),
        (500, DeliveryOutcome.RETRYABLE),
        (503, DeliveryOutcome.RETRYABLE),
    ],
)
async def test_status_classification(start_receiver: StartReceiver, status: int, outcome: DeliveryOutcome) -> None:
    receiver = await start_receiver(status=status, response_body=b"receiver says hi")
    result = await send(receiver.url(), {}, b"{}", allow_private=True)
    assert (result.status_code, result.outcome) == (status, outcome)
    assert result.response_snippet == "receiver says hi"
    assert (result.error is None) == (outcome is DeliveryOutcome.DELIVERED)
    assert result.gone == (status == 410)
    assert result.retryable == (outcome is DeliveryOutcome.RETRYABLE)


async def test_response_snippet_is_bounded(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(status=500, response_body=b"x" * 100_000)
    result = await send(receiver.url(), {}, b"{}", allow_private=True)
    assert result.response_snippet == "x" * 512


async def test_redirect_is_not_followed(start_receiver: StartReceiver) -> None:
    elsewhere = await start_receiver()
    redirector = await start_receiver(status=302, response_headers={"location": elsewhere.url("/stolen")})
    result = await send(redirector.url(), {}, b"{}", allow_private=True)
    assert result.status_code == 302 and not result.delivered
    assert result.outcome is DeliveryOutcome.RETRYABLE and "redirects are not followed" in (result.error or "")
    assert len(redirector.requests) == 1
    assert elsewhere.requests == []


async def test_stalled_receiver_times_out_as_retryable(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(stall=True)
    result = await send(receiver.url(), {}, b"{}", allow_private=True, timeout=0.3)
    assert receiver.received.is_set()  # the request arrived; the answer never did
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert result.status_code is None and result.error == "timed out after 0.3 s"


async def test_refused_connection_is_retryable() -> None:
    result = await send(f"http://127.0.0.1:{free_port()}/hook", {}, b"{}", allow_private=True)
    assert result.outcome is DeliveryOutcome.RETRYABLE and result.status_code is None
    assert (result.error or "").startswith("connection failed")


async def test_dns_failure_is_retryable() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = await send("https://hooks.example.test/", {}, b"{}", allow_private=False, resolver=failing)
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert result.error == "could not resolve host: Name or service not known"


async def test_loopback_target_is_refused_without_the_flag_and_nothing_is_sent(
    start_receiver: StartReceiver,
) -> None:
    receiver = await start_receiver()
    for url in (receiver.url(), receiver.url(host="localhost"), f"http://2130706433:{receiver.port}/hook"):
        result = await send(url, {}, b"{}", allow_private=False)
        assert result.outcome is DeliveryOutcome.REFUSED and not result.retryable
        assert result.status_code is None
    assert receiver.requests == []


async def test_name_resolving_to_a_private_address_is_refused_at_delivery(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver()
    resolver = ScriptedResolver(["127.0.0.1"])
    result = await send(receiver.url(host="hooks.example.test"), {}, b"{}", allow_private=False, resolver=resolver)
    assert result.outcome is DeliveryOutcome.REFUSED and "loopback" in (result.error or "")
    assert resolver.calls == 1 and receiver.requests == []


async def test_metadata_answer_refuses_even_with_the_flag_and_nothing_is_sent(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver()
    resolver = ScriptedResolver(["127.0.0.1", "169.254.169.254"])
    result = await send(receiver.url(host="hooks.example.test"), {}, b"{}", allow_private=True, resolver=resolver)
    assert result.outcome is DeliveryOutcome.REFUSED and "cloud metadata" in (result.error or "")
    assert receiver.requests == []


async def test_dns_rebinding_cannot_move_the_connection(start_receiver: StartReceiver) -> None:
    """The name is resolved once; the connection goes to the checked address with the original Host header,
    although every later answer points somewhere else."""
    checked = await start_receiver(host="127.0.0.1")
    rebound = await start_receiver(host="127.0.0.2", port=checked.port)
    resolver = ScriptedResolver(["127.0.0.1"], ["127.0.0.2"])
    url = checked.url(host="rebind.example.test")
    result = await send(url, {}, b"{}", allow_private=True, resolver=resolver)
    assert result.delivered
    assert resolver.calls == 1
    assert len(checked.requests) == 1 and rebound.requests == []
    assert checked.requests[0].headers["host"] == f"rebind.example.test:{checked.port}"
    # A second delivery asks DNS again and follows the new (also checked) answer: the pin is per attempt.
    await send(url, {}, b"{}", allow_private=True, resolver=resolver)
    assert len(rebound.requests) == 1 and len(checked.requests) == 1


async def test_next_checked_address_is_tried_when_the_first_refuses(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(host="127.0.0.1")
    resolver = ScriptedResolver(["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2 at this port
    result = await send(receiver.url(host="multi.example.test"), {}, b"{}", allow_private=True, resolver=resolver)
    assert result.delivered and len(receiver.requests) == 1


async def test_pinned_transport_refuses_other_hosts_without_connecting(start_receiver: StartReceiver) -> None:
    receiver = await start_receiver()
    target = parse_target_url(receiver.url(host="pinned.example.test"), allow_private=True)
    loopback = parse_target_url(receiver.url(), allow_private=True).address
    assert loopback is not None
    transport = PinnedTransport(target, loopback)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="not checked"):
            await client.post(receiver.url(host="other.example.test"), content=b"{}")
        response = await client.post(receiver.url(host="pinned.example.test"), content=b"{}")
    assert response.status_code == 204
    assert [request.headers["host"] for request in receiver.requests] == [f"pinned.example.test:{receiver.port}"]


async def test_tls_keeps_the_name_for_sni_and_certificate_check(start_receiver: StartReceiver, tmp_path: Path) -> None:
    authority = TestAuthority()
    seen_sni: list[str | None] = []
    receiver = await start_receiver(ssl_context=authority.server_context("hooks.example.test", tmp_path, seen_sni))
    resolver = ScriptedResolver(["127.0.0.1"])
    result = await send(
        receiver.url(host="hooks.example.test", scheme="https"),
        {},
        b"{}",
        allow_private=True,
        resolver=resolver,
        ssl_context=authority.client_context(),
    )
    assert result.delivered, result.error
    assert seen_sni == ["hooks.example.test"]
    assert receiver.requests[0].headers["host"] == f"hooks.example.test:{receiver.port}"


async def test_tls_certificate_for_another_name_fails(start_receiver: StartReceiver, tmp_path: Path) -> None:
    authority = TestAuthority()
    receiver = await start_receiver(ssl_context=authority.server_context("other.example.test", tmp_path, []))
    result = await send(
        receiver.url(host="hooks.example.test", scheme="https"),
        {},
        b"{}",
        allow_private=True,
        resolver=ScriptedResolver(["127.0.0.1"]),
        ssl_context=authority.client_context(),
    )
    assert result.outcome is DeliveryOutcome.RETRYABLE and result.status_code is None
    assert receiver.requests == []


async def test_logs_carry_neither_secret_nor_signature_nor_path(start_receiver: StartReceiver) -> None:
    secret = generate_secret()
    receiver = await start_receiver(status=500)
    body = build_payload("phoneCall.failed", CALL)
    headers = signed(secret, body)
    with capture_logs() as logs:
        await send(receiver.url("/hooks/token-abc123?key=sekrit"), headers, body, allow_private=True)
        await send("http://10.0.0.1/hooks/token-abc123", headers, body, allow_private=False)
    assert [entry["event"] for entry in logs] == ["webhook.delivery", "webhook.delivery"]
    assert logs[0]["target"] == f"http://127.0.0.1:{receiver.port}" and logs[0]["outcome"] == "retryable"
    assert logs[1]["outcome"] == "refused"
    text = repr(logs)
    for leaked in (secret, secret.removeprefix("whsec_"), headers["webhook-signature"], "token-abc123", "sekrit"):
        assert leaked not in text


async def test_environment_proxy_is_ignored(start_receiver: StartReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = await start_receiver()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    result = await send(receiver.url(), {}, b"{}", allow_private=True)
    assert result.delivered and len(receiver.requests) == 1


async def test_deadline_covers_slow_dns() -> None:
    never = asyncio.Event()

    async def hanging(host: str, port: int) -> list[str]:
        await never.wait()
        return []

    result = await send("https://hooks.example.test/", {}, b"{}", allow_private=False, resolver=hanging, timeout=0.2)
    assert result.outcome is DeliveryOutcome.RETRYABLE and result.error == "timed out after 0.2 s"


async def test_ipv6_literal_target(start_receiver: StartReceiver) -> None:
    try:
        receiver = await start_receiver(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    result = await send(f"http://[::1]:{receiver.port}/hook", {}, b"{}", allow_private=True)
    assert result.delivered and receiver.requests[0].headers["host"] == f"[::1]:{receiver.port}"
