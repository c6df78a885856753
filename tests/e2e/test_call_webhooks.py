"""A real call's webhooks: every status the call passes through reaches a loopback receiver, signed, in order,
and the final events carry the complete call."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import wait_until
from tests.integration.test_webhooks_delivery import HOOK_SETTINGS, Sink, running_sink, subscribe
from tests.support import LiveServer, running_server


@pytest.fixture(scope="module")
def calling_hook_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A node that dials the simulator and delivers webhooks to loopback receivers with its own worker."""
    settings = {
        **HOOK_SETTINGS,
        "telephony": "auto",
        "webhook_worker_enabled": True,
        "ring_timeout_seconds": 3,
        "agent": "minimal",  # the webhooks are under test here, not the conversation
    }
    with running_server(backend, tmp_path_factory.mktemp(f"call-hooks-{backend}"), **settings) as live:
        yield live


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A running loopback receiver."""
    with running_sink() as receiver:
        yield receiver


def test_every_status_of_a_real_call_is_delivered_in_order(calling_hook_server: LiveServer, sink: Sink) -> None:
    team = calling_hook_server.new_team("Hooks")
    team.add_number()
    sub = subscribe(team, sink.url("/team"), ["*"])
    sink.secrets["/team"] = Webhook(sub["secret"])
    template = team.add_template(firstMessage="Hello {{customer_name}}, goodbye.")
    call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], record=True)))

    arrivals = sink.wait_for(lambda got: any(a.body["event"] == "phoneCall.ended" for a in got), timeout=90)

    assert all(a.verified for a in arrivals)
    events = [(a.body["event"], a.body["data"]["status"]) for a in arrivals if a.body["data"]["_id"] == call["_id"]]
    assert events == [
        ("phoneCall.queued", "queued"),
        ("phoneCall.ringing", "ringing"),
        ("phoneCall.inProgress", "inProgress"),
        ("phoneCall.completed", "completed"),
        ("phoneCall.ended", "completed"),
    ]
    final = arrivals[-1].body["data"]
    fetched = wait_until(lambda: team.data(team.get(f"/v1/phoneCalls/{call['_id']}")), "the call record")
    for field in ("status", "statusExtraInfo", "resultValues", "callStartedAt", "callEndedAt", "callDuration"):
        assert final[field] == fetched[field], field
    assert final["statusExtraInfo"]["statusCode"] in {"ENDED_NORMALLY", "HUNG_UP_BY_HUMAN"}
    # the final events carry a signed link to the recording, fetched here without the API key
    recording = httpx.get(final["recordingUrl"])
    assert recording.status_code == 200 and recording.content[:4] == b"RIFF"
