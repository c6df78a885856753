"""Webhooks end to end over real HTTP on SQLite and PostgreSQL: subscriptions, signed deliveries at a real loopback
receiver verified with ``standardwebhooks``, the delivery log, 410, redelivery, give-up, SSRF refusals, isolation.

The worker is driven step by step here (``run_once`` sends what is due and records the outcome before returning),
so every assertion on the log follows a finished step; the free-running loop is exercised in
``test_webhooks_durability.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from opencaller.domain.clock import utc_now
from opencaller.engine.webhook_worker import WebhookDeliveryWorker, WorkerConfig
from opencaller.webhooks.backoff import BackoffPolicy
from tests.support import LiveServer, TeamClient, running_server
from tests.webhooks.receiver import ReceivedRequest, Receiver

AICALLER_SECRET = "NjUyOTgwMjkpJU0NmY25yzWkJFWDBE12"


HOOK_SETTINGS: dict[str, Any] = {
    "webhooks_allow_private": True,
    "webhook_backoff_base_seconds": 0.05,
    "webhook_backoff_cap_seconds": 0.2,
    "webhook_poll_seconds": 0.05,
    "webhook_timeout_seconds": 2.0,
    "webhook_worker_enabled": False,
    "telephony": "none",  # calls stay queued: the events under test come from the API alone
}
"""A server whose webhooks may target loopback and retry fast (50 ms base, 200 ms cap)."""


@dataclass
class Arrival:
    """One request at the sink, with what the sink answered and whether its signature verified."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    verified: bool

    @property
    def msg_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers["webhook-id"]


@dataclass
class Sink:
    """A loopback webhook receiver on its own thread and event loop, verifying every request with
    ``standardwebhooks`` (one secret per path). Tests wait on its condition, never on the clock."""

    secrets: dict[str, Webhook] = field(default_factory=dict)
    status: int = 204
    arrivals: list[Arrival] = field(default_factory=list)
    port: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _receiver: Receiver | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-sink", daemon=True)
        self._thread.start()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def up(self) -> Sink:
        """Listen (again) on the sink's port (a free one the first time)."""

        async def start() -> Receiver:
            receiver = Receiver(status=self.status, on_request=self._record)
            return await receiver.start(port=self.port)

        self._receiver = self._call(start())
        self.port = self._receiver.port
        return self

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        if self._receiver is not None:
            self._call(self._receiver.close())
            self._receiver = None

    def answer(self, status: int) -> None:
        """Answer ``status`` from now on (changed on the sink's loop, so no request sees half a change)."""

        async def change() -> None:
            self.status = status
            if self._receiver is not None:
                self._receiver.status = status

        self._call(change())

    def close(self) -> None:
        """Stop listening and end the thread."""
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def url(self, path: str) -> str:
        """The URL of ``path`` on this sink."""
        return f"http://127.0.0.1:{self.port}{path}"

    def _record(self, request: ReceivedRequest) -> None:
        verifier = self.secrets.get(request.path)
        verified = False
        if verifier is not None:
            try:
                verifier.verify(request.body, request.headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        # the Receiver read its status just before calling us, on this same loop: that is what it answers
        status = self._receiver.status if self._receiver is not None else self.status
        arrival = Arrival(request.path, request.headers, json.loads(request.body), status, verified)
        with self._cond:
            self.arrivals.append(arrival)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Arrival]], bool], timeout: float = 60) -> list[Arrival]:
        """Block until ``predicate(arrivals)`` holds (the timeout only turns a hang into a failure)."""
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.arrivals), timeout), f"only {len(self.arrivals)} arrived"
            return list(self.arrivals)

    def snapshot(self) -> list[Arrival]:
        """What has arrived so far."""
        with self._cond:
            return list(self.arrivals)


@contextmanager
def running_sink(status: int = 204) -> Iterator[Sink]:
    """A sink listening (answering ``status``) until the block ends; then its port and thread are closed."""
    receiver = Sink(status=status).up()
    try:
        yield receiver
    finally:
        receiver.close()


def ids_with(arrivals: list[Arrival], status: int) -> set[str]:
    """Message ids that got ``status`` at least once."""
    return {a.msg_id for a in arrivals if a.status == status}


@pytest.fixture(scope="module")
def hook_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server allowing loopback webhook targets, its own worker off (tests drive workers themselves)."""
    with running_server(backend, tmp_path_factory.mktemp(f"hooks-{backend}"), **HOOK_SETTINGS) as live:
        yield live


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A running loopback receiver."""
    with running_sink() as receiver:
        yield receiver


@pytest.fixture
def acme(hook_server: LiveServer) -> TeamClient:
    """A team with a number and a template on the webhook server."""
    team = hook_server.new_team("Acme")
    team.add_number()
    return team


def drive(server: LiveServer, *, clock: Callable[[], Any] | None = None, slow_retries: bool = False) -> int:
    """Run a fresh worker step by step until nothing is due; returns how many attempts were made.

    ``slow_retries`` schedules retries a minute out, so a failed attempt is not retried within this call.
    """
    config = WorkerConfig.from_settings(server.settings)
    if slow_retries:
        config = replace(config, policy=BackoffPolicy(base=60, cap=60, max_age=config.policy.max_age))
    worker = WebhookDeliveryWorker(server.db, server.app.state.services.cipher, config, clock=clock or utc_now)

    async def run() -> int:
        total = 0
        while sent := await worker.run_once():
            total += sent
        return total

    return server.run(run())


def deliveries(team: TeamClient, **params: Any) -> list[dict[str, Any]]:
    """Every delivery-log entry matching ``params``, following cursors."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = team.get(
            "/v1/webhookDeliveries", params={**params, "limit": 50, **({"cursor": cursor} if cursor else {})}
        )
        assert body.status_code == 200, body.text
        found.extend(body.json()["data"])
        cursor = body.json()["pagination"]["nextCursor"]
        if cursor is None:
            return found


def subscribe(team: TeamClient, url: str, events: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """Create a team subscription and return it (with its secret)."""
    return team.data(team.post("/v1/webhooks", {"url": url, **({"events": events} if events else {}), **fields}))  # type: ignore[no-any-return]


def test_signed_deliveries_for_created_and_cancelled_calls(
    hook_server: LiveServer, acme: TeamClient, sink: Sink
) -> None:
    sub = subscribe(acme, sink.url("/team"), ["*"])
    assert sub["secret"].startswith("whsec_") and sub["enabled"] is True
    sink.secrets["/team"] = Webhook(sub["secret"])
    sink.secrets["/call"] = Webhook(AICALLER_SECRET.encode())
    template = acme.add_template()
    hook = {"url": sink.url("/call"), "subscribedEvent": "phoneCall.cancelled", "secret": AICALLER_SECRET}
    call = acme.data(acme.post("/v1/phoneCalls", acme.call_body(template["_id"], phoneCallWebhooks=[hook])))
    cancelled = acme.data(acme.post(f"/v1/phoneCalls/{call['_id']}/cancel"))

    assert drive(hook_server) == 4  # team: queued, cancelled, ended; the call's own hook: cancelled

    arrivals = sink.snapshot()
    assert all(a.verified and a.status == 204 for a in arrivals)
    team_events = [(a.body["event"], a.body["data"]["status"]) for a in arrivals if a.path == "/team"]
    assert team_events == [
        ("phoneCall.queued", "queued"),
        ("phoneCall.cancelled", "cancelled"),
        ("phoneCall.ended", "cancelled"),
    ]
    own = [a for a in arrivals if a.path == "/call"]
    assert [a.body["event"] for a in own] == ["phoneCall.cancelled"]
    fetched = acme.data(acme.get(f"/v1/phoneCalls/{call['_id']}"))
    assert own[0].body["data"] == fetched == cancelled
    assert AICALLER_SECRET not in json.dumps(fetched) and AICALLER_SECRET not in acme.get("/v1/webhooks").text

    log = deliveries(acme, phoneCallId=call["_id"])
    assert len(log) == 4 and {e["status"] for e in log} == {"delivered"}
    assert {e["messageId"] for e in log} == {a.msg_id for a in arrivals}
    assert all(e["attempts"] == 1 and e["lastResponseCode"] == 204 and e["lastLatencyMs"] >= 0 for e in log)
    one = acme.data(acme.get(f"/v1/webhookDeliveries/{log[0]['_id']}"))
    assert one["payload"]["event"] == log[0]["event"] and "secret" not in json.dumps(one)


def test_no_subscription_no_delivery_and_event_filter(hook_server: LiveServer, acme: TeamClient, sink: Sink) -> None:
    template = acme.add_template()
    acme.data(acme.post("/v1/phoneCalls/batch", {"phoneCalls": [acme.call_body(template["_id"])] * 3}))
    assert deliveries(acme) == []

    sub = subscribe(acme, sink.url("/team"), ["phoneCall.ended"])
    sink.secrets["/team"] = Webhook(sub["secret"])
    created = acme.data(acme.post("/v1/phoneCalls/batch", {"phoneCalls": [acme.call_body(template["_id"])] * 2}))
    acme.data(acme.post(f"/v1/phoneCalls/{created[1]['_id']}/cancel"))
    assert drive(hook_server) == 1
    [arrival] = sink.snapshot()
    assert arrival.verified and arrival.body["event"] == "phoneCall.ended"
    assert arrival.body["data"]["_id"] == created[1]["_id"]


def test_retries_then_delivers_with_the_same_message_id(hook_server: LiveServer, acme: TeamClient, sink: Sink) -> None:
    sub = subscribe(acme, sink.url("/team"), ["phoneCall.queued"])
    sink.secrets["/team"] = Webhook(sub["secret"])
    sink.answer(503)
    template = acme.add_template()
    call = acme.data(acme.post("/v1/phoneCalls", acme.call_body(template["_id"])))
    assert drive(hook_server, slow_retries=True) == 1

    [entry] = deliveries(acme, phoneCallId=call["_id"])
    assert entry["status"] == "pending" and entry["attempts"] == 1 and entry["lastResponseCode"] == 503
    assert entry["nextAttemptAt"] is not None and "503" in entry["lastError"]

    sink.answer(200)
    first = sink.snapshot()[0]
    retried = acme.data(acme.post(f"/v1/webhookDeliveries/{entry['_id']}/redeliver"))
    assert retried["status"] == "pending"
    assert drive(hook_server, slow_retries=True) == 1
    arrivals = sink.snapshot()
    assert [a.status for a in arrivals] == [503, 200]
    assert arrivals[1].msg_id == first.msg_id and arrivals[1].body == first.body and arrivals[1].verified
    [entry] = deliveries(acme, phoneCallId=call["_id"])
    assert entry["status"] == "delivered" and entry["attempts"] == 2 and entry["deliveredAt"] is not None


def test_gives_up_after_the_max_age(hook_server: LiveServer, acme: TeamClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    subscribe(acme, f"http://127.0.0.1:{closed_port}/gone-away", ["phoneCall.queued"])
    template = acme.add_template()
    call = acme.data(acme.post("/v1/phoneCalls", acme.call_body(template["_id"])))

    def a_day_later() -> Any:
        return utc_now() + timedelta(hours=hook_server.settings.webhook_max_age_hours, minutes=1)

    assert drive(hook_server, clock=a_day_later) == 1
    [entry] = deliveries(acme, phoneCallId=call["_id"], status="failed")
    assert entry["attempts"] == 1 and entry["nextAttemptAt"] is None
    assert "gave up" in entry["lastError"] and "connection" in entry["lastError"]


def test_410_disables_the_team_subscription(hook_server: LiveServer, acme: TeamClient, sink: Sink) -> None:
    sub = subscribe(acme, sink.url("/team"), ["*"])
    sink.secrets["/team"] = Webhook(sub["secret"])
    sink.answer(410)
    template = acme.add_template()
    call = acme.data(acme.post("/v1/phoneCalls", acme.call_body(template["_id"])))
    acme.data(acme.post(f"/v1/phoneCalls/{call['_id']}/cancel"))

    assert drive(hook_server) == 1  # the first answer 410; its later events are never sent
    disabled = acme.data(acme.get(f"/v1/webhooks/{sub['_id']}"))
    assert disabled["enabled"] is False and "410" in disabled["disabledReason"] and "secret" not in disabled
    log = {e["event"]: e for e in deliveries(acme, webhookId=sub["_id"])}
    assert log["phoneCall.queued"]["status"] == "failed" and log["phoneCall.queued"]["lastResponseCode"] == 410
    assert log["phoneCall.cancelled"]["status"] == "disabled" and log["phoneCall.ended"]["status"] == "disabled"

    acme.data(acme.post("/v1/phoneCalls", acme.call_body(template["_id"])))
    assert drive(hook_server) == 0  # a disabled subscription gets no new events
    enabled = acme.data(acme.http.patch(f"/v1/webhooks/{sub['_id']}", json={"enabled": True}))
    assert enabled["enabled"] is True and enabled["disabledReason"] is None


def test_subscription_crud_and_secrets_shown_once(hook_server: LiveServer, acme: TeamClient) -> None:
    given = subscribe(
        acme, "https://hooks.example.com/a", ["phoneCall.completed", "phoneCall.canceled"], secret="s3cr3t"
    )
    assert given["secret"] == "s3cr3t" and given["events"] == ["phoneCall.completed", "phoneCall.cancelled"]
    listed = acme.get("/v1/webhooks").json()
    assert [w["_id"] for w in listed["data"]] == [given["_id"]] and "s3cr3t" not in json.dumps(listed)
    assert listed["pagination"] == {"limit": 100, "nextCursor": None}

    rotated = acme.data(acme.http.patch(f"/v1/webhooks/{given['_id']}", json={"secret": "n3w", "events": ["*"]}))
    assert rotated["secret"] == "n3w" and rotated["events"] == ["*"]
    again = acme.data(acme.get(f"/v1/webhooks/{given['_id']}"))
    assert "secret" not in again and again["url"] == "https://hooks.example.com/a"

    bad_event = acme.post("/v1/webhooks", {"url": "https://hooks.example.com/b", "events": ["call.done"]})
    assert bad_event.status_code == 400 and bad_event.json()["error"]["details"][0]["field"] == "events.0"
    bad_secret = acme.post("/v1/webhooks", {"url": "https://hooks.example.com/b", "secret": "whsec_!!"})
    assert bad_secret.status_code == 400

    assert acme.data(acme.http.delete(f"/v1/webhooks/{given['_id']}"))["_id"] == given["_id"]
    assert acme.get(f"/v1/webhooks/{given['_id']}").status_code == 404


REFUSED_ALWAYS = ["http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/", "ftp://example.com/"]
REFUSED_UNLESS_ALLOWED = [
    "http://127.0.0.1:9/hook",
    "http://localhost/hook",
    "http://10.0.0.8/hook",
    "http://192.168.1.20/hook",
    "http://[::1]/hook",
    "http://169.254.10.10/hook",
    "http://2130706433/hook",
]


def test_ssrf_targets_refused_at_subscription(team: TeamClient) -> None:
    """The default server (private targets not allowed) refuses private, loopback, link-local and metadata."""
    template = team.add_template()
    team.add_number()
    for url in REFUSED_ALWAYS + REFUSED_UNLESS_ALLOWED:
        response = team.post("/v1/webhooks", {"url": url})
        assert response.status_code == 400, url
        assert response.json()["error"]["details"][0]["field"] == "url"
        hook = {"url": url, "subscribedEvent": "*"}
        response = team.post("/v1/phoneCalls", team.call_body(template["_id"], phoneCallWebhooks=[hook]))
        assert response.status_code == 400, url
        assert response.json()["error"]["details"][0]["field"] == "phoneCallWebhooks.0.url"
    assert team.data(team.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}))["enabled"] is True


def test_allow_private_still_refuses_metadata(acme: TeamClient) -> None:
    for url in REFUSED_ALWAYS:
        assert acme.post("/v1/webhooks", {"url": url}).status_code == 400, url
    for url in REFUSED_UNLESS_ALLOWED[:6]:
        assert acme.post("/v1/webhooks", {"url": url}).status_code == 200, url


def test_isolation_of_webhooks_and_deliveries(hook_server: LiveServer, acme: TeamClient, sink: Sink) -> None:
    other = hook_server.new_team("Globex")
    sub = subscribe(acme, sink.url("/team"), ["*"])
    template = acme.add_template()
    call = acme.data(acme.post("/v1/phoneCalls", acme.call_body(template["_id"])))
    [entry] = deliveries(acme, phoneCallId=call["_id"])

    for method, path, body in [
        ("GET", f"/v1/webhooks/{sub['_id']}", None),
        ("PATCH", f"/v1/webhooks/{sub['_id']}", {"enabled": False}),
        ("DELETE", f"/v1/webhooks/{sub['_id']}", None),
        ("GET", f"/v1/webhookDeliveries/{entry['_id']}", None),
        ("POST", f"/v1/webhookDeliveries/{entry['_id']}/redeliver", None),
        ("GET", f"/v1/webhookDeliveries?phoneCallId={call['_id']}", None),
        ("GET", f"/v1/webhookDeliveries?webhookId={sub['_id']}", None),
    ]:
        response = other.http.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert other.get("/v1/webhooks").json()["data"] == []
    assert other.get("/v1/webhookDeliveries").json()["data"] == []
    assert acme.data(acme.get(f"/v1/webhooks/{sub['_id']}"))["enabled"] is True
    assert acme.get("/v1/webhookDeliveries", params={"status": "sent"}).status_code == 400
