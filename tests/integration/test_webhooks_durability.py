"""Durability of webhook delivery: the receiver is down for a while, the worker dies and another takes over, the
receiver comes back, and every event arrives, signed, in order per call and target, none lost; a repeat only ever
carries the same ``webhook-id`` and body.

In process (both backends): a worker is stopped without grace and a new one (two on PostgreSQL, sharing the outbox
with ``SKIP LOCKED``) starts. Out of process (PostgreSQL): ``opencaller serve`` is killed with SIGKILL mid-retry and
two new servers start on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from opencaller.engine.webhook_worker import WebhookDeliveryWorker, WorkerConfig
from tests.cluster import free_port, wait_for_http
from tests.integration.test_webhooks_delivery import (
    AICALLER_SECRET,
    HOOK_SETTINGS,
    Arrival,
    Sink,
    deliveries,
    ids_with,
    running_sink,
)
from tests.support import LiveServer, TeamClient, running_server, temporary_database

CALLS = 12
CANCELLED = 6
OWN_HOOKS = 4  # calls that also carry their own phoneCallWebhooks subscription to "*"


@pytest.fixture(scope="module")
def hook_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server allowing loopback targets, retrying fast; tests start and stop workers themselves."""
    with running_server(backend, tmp_path_factory.mktemp(f"durable-{backend}"), **HOOK_SETTINGS) as live:
        yield live


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A loopback receiver, answering 503 at first (it is 'down' for the application)."""
    with running_sink(status=503) as receiver:
        yield receiver


def make_traffic(team: TeamClient, sink: Sink) -> dict[str, list[str]]:
    """A team subscription to everything, calls (some with their own hook), some cancelled.

    Returns the events each (call id, path) stream must receive, in order.
    """
    team.add_number()
    sub = team.data(team.post("/v1/webhooks", {"url": sink.url("/team"), "events": ["*"]}))
    sink.secrets["/team"] = Webhook(sub["secret"])
    sink.secrets["/call"] = Webhook(AICALLER_SECRET.encode())
    template = team.add_template()
    own = {"url": sink.url("/call"), "subscribedEvent": "*", "secret": AICALLER_SECRET}
    bodies = [
        team.call_body(template["_id"], **({"phoneCallWebhooks": [own]} if i < OWN_HOOKS else {})) for i in range(CALLS)
    ]
    calls = team.data(team.post("/v1/phoneCalls/batch", {"phoneCalls": bodies}))
    expected: dict[str, list[str]] = {}
    for index, call in enumerate(calls):
        cancelled = index % 2 == 0 and index < 2 * CANCELLED
        if cancelled:
            team.data(team.post(f"/v1/phoneCalls/{call['_id']}/cancel"))
        events = ["phoneCall.queued", *(["phoneCall.cancelled", "phoneCall.ended"] if cancelled else [])]
        expected[f"{call['_id']} /team"] = events
        if index < OWN_HOOKS:
            expected[f"{call['_id']} /call"] = events
    return expected


def check_arrivals(arrivals: list[Arrival], expected: dict[str, list[str]], log: list[dict[str, Any]]) -> None:
    """Every event arrived, verified, in order per stream; repeats carry the same id and body; the log agrees."""
    assert all(a.verified for a in arrivals), "a delivery failed signature verification"
    by_id: dict[str, Arrival] = {}
    first_seen: dict[str, list[str]] = defaultdict(list)
    for arrival in arrivals:
        if arrival.msg_id in by_id:
            assert arrival.body == by_id[arrival.msg_id].body, "a repeat changed the body"
            continue
        by_id[arrival.msg_id] = arrival
        first_seen[f"{arrival.body['data']['_id']} {arrival.path}"].append(arrival.body["event"])
    assert dict(first_seen) == expected
    delivered_ids = ids_with(arrivals, 204)
    assert len(delivered_ids) == sum(len(events) for events in expected.values())
    assert {entry["messageId"] for entry in log} == delivered_ids
    assert {entry["status"] for entry in log} == {"delivered"}
    for arrival in arrivals:
        status = arrival.body["data"]["status"]
        assert status == ("queued" if arrival.body["event"] == "phoneCall.queued" else "cancelled")


def test_receiver_down_worker_restarted_nothing_lost(hook_server: LiveServer, sink: Sink, backend: str) -> None:
    team = hook_server.new_team("Durable")
    services = hook_server.app.state.services
    config = WorkerConfig.from_settings(hook_server.settings)

    def new_worker(name: str) -> WebhookDeliveryWorker:
        return WebhookDeliveryWorker(hook_server.db, services.cipher, config, name=name)

    first = new_worker("first")
    hook_server.run(first.start())
    expected = make_traffic(team, sink)
    streams = len(expected)

    # the receiver answers 503: every stream's head is tried and retried, nothing behind a head is sent
    sink.wait_for(lambda got: len({a.msg_id for a in got}) >= streams and len(got) >= 3 * streams)
    heads = {a.msg_id for a in sink.snapshot()}
    assert len(heads) == streams, "only the first event of each stream may be attempted while it fails"

    hook_server.run(first.stop(grace=0))  # dies mid-retry
    sink.down()  # and the receiver is now unreachable altogether
    failing = [e for e in deliveries(team) if e["attempts"] > 0]
    assert failing and all(e["status"] == "pending" and e["lastResponseCode"] == 503 for e in failing)

    successors = [new_worker("second"), *([new_worker("third")] if backend == "postgresql" else [])]
    for worker in successors:
        hook_server.run(worker.start())
    sink.answer(204)
    sink.up()
    total = sum(len(events) for events in expected.values())
    sink.wait_for(lambda got: len(ids_with(got, 204)) >= total)
    for worker in successors:
        hook_server.run(worker.stop())

    arrivals = sink.snapshot()
    check_arrivals(arrivals, expected, deliveries(team))
    ok_per_id: dict[str, int] = defaultdict(int)
    for arrival in arrivals:
        if arrival.status == 204:
            ok_per_id[arrival.msg_id] += 1
    assert set(ok_per_id.values()) == {1}, "a delivery was sent twice after it had succeeded"


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``opencaller serve`` on a free port, once it answers ``/healthz``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "opencaller", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/healthz", process)
    return process, base


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful shutdown: in-flight deliveries are finished and recorded) and wait."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_sigkill_of_serve_loses_nothing(tmp_path: Path, sink: Sink) -> None:
    """PostgreSQL only: the outbox is shared by several ``opencaller serve`` processes."""
    with temporary_database("postgresql", tmp_path) as url:
        env = {
            **os.environ,
            "OPENCALLER_DATA_DIR": str(tmp_path),
            "OPENCALLER_DATABASE_URL": url,
            "OPENCALLER_SECRET_KEY": "durable-secret",
            "OPENCALLER_WEBHOOKS_ALLOW_PRIVATE": "true",
            "OPENCALLER_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
            "OPENCALLER_WEBHOOK_BACKOFF_CAP_SECONDS": "0.2",
            "OPENCALLER_WEBHOOK_POLL_SECONDS": "0.05",
            "OPENCALLER_WEBHOOK_TIMEOUT_SECONDS": "1",
            "OPENCALLER_LOG_LEVEL": "WARNING",
            "OPENCALLER_TELEPHONY": "none",
        }
        created = subprocess.run(
            [sys.executable, "-m", "opencaller", "teams", "create", "Durable", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        key = json.loads(created.stdout)["apiKey"]
        headers = {"aicaller-api-key": key}
        processes: list[subprocess.Popen[bytes]] = []
        try:
            victim, base = _serve(env)
            processes.append(victim)
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                expected = make_traffic(TeamClient(team_id="", api_key=key, http=http), sink)
            sink.wait_for(lambda got: len(got) >= 3 * len(expected))  # retrying against a 503
            victim.send_signal(signal.SIGKILL)
            assert victim.wait(30) == -signal.SIGKILL

            sink.answer(204)
            processes.extend(_serve(env)[0] for _ in range(2))
            total = sum(len(events) for events in expected.values())
            arrivals = sink.wait_for(lambda got: len(ids_with(got, 204)) >= total, timeout=120)
            for process in processes[1:]:
                _stop(process)

            reader, base = _serve({**env, "OPENCALLER_WEBHOOK_WORKER_ENABLED": "false"})
            processes.append(reader)
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                log = deliveries(TeamClient(team_id="", api_key=key, http=http))
        finally:
            for process in processes:
                _stop(process)
        check_arrivals(arrivals, expected, log)
        ok_per_id: dict[str, int] = defaultdict(int)
        for arrival in arrivals:
            if arrival.status == 204:
                ok_per_id[arrival.msg_id] += 1
        assert set(ok_per_id.values()) == {1}, "two servers both delivered one message"
