"""Tenant isolation: one team's key never reads, changes or even detects another team's data.

The table below has one or more rows per endpoint. Each row is sent with team B's key, aimed at team A's
resources; afterwards A's whole world (read back with A's key) must be exactly as it was. A route test walks the
app's routes and fails when a ``/v1`` endpoint has no row, so a new endpoint cannot skip isolation.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from opencaller.store.models import TranscriptTurn, WebhookDelivery
from tests.support import LiveServer, TeamClient, api_endpoints


@dataclass
class World:
    """One team and one of each of its resources, tagged with a marker no other team's data contains."""

    client: TeamClient
    marker: str
    number: dict[str, Any]
    template: dict[str, Any]
    call: dict[str, Any]
    dnc: dict[str, Any]
    key: dict[str, Any]
    webhook: dict[str, Any]
    delivery_id: str
    file: dict[str, Any]

    @property
    def team_id(self) -> str:
        return self.client.team_id

    def path_ids(self) -> dict[str, str]:
        """Values for every path parameter of the API's routes."""
        return {
            "call_id": self.call["_id"],
            "template_id": self.template["_id"],
            "number_id": self.number["_id"],
            "key_id": self.key["_id"],
            "entry_id": self.dnc["_id"],
            "webhook_id": self.webhook["_id"],
            "delivery_id": self.delivery_id,
            "file_id": self.file["_id"],
        }

    def resource_ids(self) -> set[str]:
        return {self.team_id, *self.path_ids().values()}

    def snapshot(self) -> dict[str, Any]:
        """Everything the team can read about itself, as whole JSON bodies."""
        reads = {
            "team": "/v1/teams/me",
            "calls": "/v1/phoneCalls",  # the lists hold whole objects, as GET by id shows them
            "templates": "/v1/callTemplates",
            "numbers": "/v1/phoneNumbers",
            "keys": "/v1/apiKeys",
            "doNotCall": "/v1/doNotCall",
            "transcript": f"/v1/transcripts?phoneCallId={self.call['_id']}",
            "webhooks": "/v1/webhooks",
            "deliveries": "/v1/webhookDeliveries",
            "delivery": f"/v1/webhookDeliveries/{self.delivery_id}",
            "files": "/v1/files",
            "file": f"/v1/files/{self.file['_id']}",
        }
        snap = {}
        for name, path in reads.items():
            response = self.client.get(path)
            assert response.status_code == 200, (path, response.text)
            snap[name] = response.json()
        return snap


def build_world(server: LiveServer, client: TeamClient, number: str) -> World:
    marker = "mark" + secrets.token_hex(6)
    owned = client.add_number(number, label=f"{marker} line")
    template = client.add_template(name=f"{marker} template")
    call = client.data(client.post("/v1/phoneCalls", client.call_body(template["_id"], nameOfHuman=f"{marker} human")))
    dnc = client.data(client.post("/v1/doNotCall", {"number": "+12025550177", "reason": f"{marker} asked"}))
    key = client.data(client.post("/v1/apiKeys", {"name": f"{marker} key"}))
    client.data(client.patch("/v1/teams/me", {"name": f"{marker} team"}))
    # disabled, so no delivery is ever attempted; the one delivery below is settled (failed), so no worker touches it
    webhook = client.data(client.post("/v1/webhooks", {"url": f"https://hooks.example.com/{marker}", "enabled": False}))
    now = datetime.now(UTC)
    delivery = WebhookDelivery(
        team_id=client.team_id, phone_call_id=call["_id"], subscription_id=webhook["_id"],
        target_key=f"sub:{webhook['_id']}", sequence=0, event="phoneCall.completed", message_id=f"msg_{marker}",
        payload=json.dumps({"event": "phoneCall.completed", "data": {"note": marker}}), url=webhook["url"],
        status="failed", attempts=1, last_status_code=500, retry_window_started_at=now,
    )  # fmt: skip
    server.add_rows(
        TranscriptTurn(
            team_id=client.team_id, phone_call_id=call["_id"], seq=0, role="agent", text=f"{marker} said hi",
            started_at=now, ended_at=now,
        ),
        delivery,
    )  # fmt: skip
    lead_list = f"name,phone,customer_name\n{marker} lead,+12025550131,{marker}\n".encode()
    lead_file = client.data(
        client.http.post(
            "/v1/files",
            files={"file": (f"{marker}.csv", lead_list, "text/csv")},
            data={"callTemplateId": template["_id"]},
        )
    )
    return World(client, marker, owned, template, call, dnc, key, webhook, delivery.id, lead_file)


Body = Callable[[World, World], Any]
Check = Callable[[httpx.Response, World, World], None]


@dataclass(frozen=True)
class Case:
    """Team B sends ``method`` to ``route`` (formatted with team A's ids) and must get one of ``expect``."""

    name: str
    method: str
    route: str
    expect: tuple[int, ...]
    body: Body | None = None
    params: Body | None = None
    check: Check | None = field(default=None)
    files: bool = False
    """Send ``params`` as a multipart form with a small lead list (``POST /v1/files``)."""


def _ids_in(response: httpx.Response) -> set[str]:
    return {item["_id"] for item in response.json()["data"]}


def lists_only_own(own: Callable[[World], str]) -> Check:
    """A list answer holds B's own item and nothing of A's."""

    def check(response: httpx.Response, a: World, b: World) -> None:
        ids = _ids_in(response)
        assert own(b) in ids
        assert not ids & a.resource_ids()

    return check


def created_for_b(response: httpx.Response, a: World, b: World) -> None:
    """A create answered 200 made the resource in B's team (or the server refused it outright)."""
    if response.status_code == 200:
        assert response.json()["data"]["teamId"] == b.team_id


def _b_call(a: World, b: World, **fields: Any) -> dict[str, Any]:
    return b.client.call_body(b.template["_id"], **fields)


CASES: list[Case] = [
    # /v1/phoneCalls
    Case("call with A's teamId", "POST", "/v1/phoneCalls", (404,),
         body=lambda a, b: _b_call(a, b, teamId=a.team_id)),
    Case("call with A's template", "POST", "/v1/phoneCalls", (400, 404),
         body=lambda a, b: b.client.call_body(a.template["_id"])),
    Case("call with A's phoneNumberId", "POST", "/v1/phoneCalls", (400, 404),
         body=lambda a, b: _b_call(a, b, phoneNumberId=a.number["_id"])),
    Case("call from A's number", "POST", "/v1/phoneCalls", (400,),
         body=lambda a, b: _b_call(a, b, fromPhoneNumber=a.number["number"])),
    Case("list calls", "GET", "/v1/phoneCalls", (200,), check=lists_only_own(lambda b: b.call["_id"])),
    Case("list calls of A's template", "GET", "/v1/phoneCalls", (200,),
         params=lambda a, b: {"callTemplateId": a.template["_id"]},
         check=lambda r, a, b: _assert_equal(r.json()["data"], [])),
    Case("get A's call", "GET", "/v1/phoneCalls/{call_id}", (404,)),
    Case("cancel A's call", "POST", "/v1/phoneCalls/{call_id}/cancel", (404,)),
    # a key opens no recording: only the signed link in the call's own recordingUrl does
    Case("A's recording with B's key", "GET", "/v1/phoneCalls/{call_id}/recording", (400,)),
    # /v1/phoneCalls/batch
    Case("batch with A's teamId", "POST", "/v1/phoneCalls/batch", (404,),
         body=lambda a, b: {"phoneCalls": [_b_call(a, b), _b_call(a, b, teamId=a.team_id)]}),
    Case("batch with A's template", "POST", "/v1/phoneCalls/batch", (400, 404),
         body=lambda a, b: {"phoneCalls": [_b_call(a, b), b.client.call_body(a.template["_id"])]}),
    Case("batch with A's phoneNumberId", "POST", "/v1/phoneCalls/batch", (400, 404),
         body=lambda a, b: {"phoneCalls": [_b_call(a, b, phoneNumberId=a.number["_id"])]}),
    # /v1/callTemplates
    Case("create template claiming A's team", "POST", "/v1/callTemplates", (200, 404),
         body=lambda a, b: {"name": "claimed", "teamId": a.team_id}, check=created_for_b),
    Case("list templates", "GET", "/v1/callTemplates", (200,),
         check=lists_only_own(lambda b: b.template["_id"])),
    Case("get A's template", "GET", "/v1/callTemplates/{template_id}", (404,)),
    Case("patch A's template", "PATCH", "/v1/callTemplates/{template_id}", (404,),
         body=lambda a, b: {"name": "hijacked"}),
    Case("put A's template", "PUT", "/v1/callTemplates/{template_id}", (404,),
         body=lambda a, b: {"name": "hijacked"}),
    Case("delete A's template", "DELETE", "/v1/callTemplates/{template_id}", (404,)),
    # /v1/phoneNumbers
    Case("add A's number (not a conflict)", "POST", "/v1/phoneNumbers", (200,),
         body=lambda a, b: {"number": a.number["number"], "teamId": a.team_id}, check=created_for_b),
    Case("list numbers", "GET", "/v1/phoneNumbers", (200,), check=lists_only_own(lambda b: b.number["_id"])),
    Case("get A's number", "GET", "/v1/phoneNumbers/{number_id}", (404,)),
    Case("patch A's number", "PATCH", "/v1/phoneNumbers/{number_id}", (404,),
         body=lambda a, b: {"label": "hijacked", "isDefault": True}),
    Case("delete A's number", "DELETE", "/v1/phoneNumbers/{number_id}", (404,)),
    # /v1/teams/me
    Case("read own team", "GET", "/v1/teams/me", (200,),
         check=lambda r, a, b: _assert_equal(r.json()["data"]["_id"], b.team_id)),
    Case("default number of A's", "PATCH", "/v1/teams/me", (400, 404),
         body=lambda a, b: {"defaultPhoneNumberId": a.number["_id"]}),
    Case("patch naming A's team id", "PATCH", "/v1/teams/me", (200,),
         body=lambda a, b: {"_id": a.team_id, "teamId": a.team_id, "name": "renamed"},
         check=lambda r, a, b: _assert_equal(
             (r.json()["data"]["_id"], r.json()["data"]["name"]), (b.team_id, "renamed"))),
    # /v1/apiKeys
    Case("list keys", "GET", "/v1/apiKeys", (200,), check=lists_only_own(lambda b: b.key["_id"])),
    Case("create key claiming A's team", "POST", "/v1/apiKeys", (200, 404),
         body=lambda a, b: {"name": "claimed", "teamId": a.team_id}, check=created_for_b),
    Case("revoke A's key", "DELETE", "/v1/apiKeys/{key_id}", (404,)),
    # /v1/doNotCall
    Case("list do-not-call", "GET", "/v1/doNotCall", (200,), check=lists_only_own(lambda b: b.dnc["_id"])),
    Case("add A's do-not-call number", "POST", "/v1/doNotCall", (200,),
         body=lambda a, b: {"number": a.dnc["number"], "teamId": a.team_id}, check=created_for_b),
    Case("delete A's do-not-call entry", "DELETE", "/v1/doNotCall/{entry_id}", (404,)),
    # /v1/webhooks
    Case("create webhook claiming A's team", "POST", "/v1/webhooks", (200, 404),
         body=lambda a, b: {"url": "https://hooks.example.com/b", "enabled": False, "teamId": a.team_id},
         check=created_for_b),
    Case("list webhooks", "GET", "/v1/webhooks", (200,), check=lists_only_own(lambda b: b.webhook["_id"])),
    Case("get A's webhook", "GET", "/v1/webhooks/{webhook_id}", (404,)),
    Case("patch A's webhook", "PATCH", "/v1/webhooks/{webhook_id}", (404,),
         body=lambda a, b: {"url": "https://hooks.example.com/stolen", "secret": "whsec_c3RvbGVu"}),
    Case("delete A's webhook", "DELETE", "/v1/webhooks/{webhook_id}", (404,)),
    # /v1/webhookDeliveries
    Case("list deliveries", "GET", "/v1/webhookDeliveries", (200,), check=lists_only_own(lambda b: b.delivery_id)),
    Case("list deliveries of A's call", "GET", "/v1/webhookDeliveries", (200, 400, 404),
         params=lambda a, b: {"phoneCallId": a.call["_id"]},
         check=lambda r, a, b: _assert_equal(r.json().get("data", []), [])),
    Case("get A's delivery", "GET", "/v1/webhookDeliveries/{delivery_id}", (404,)),
    Case("redeliver A's delivery", "POST", "/v1/webhookDeliveries/{delivery_id}/redeliver", (404,)),
    # /v1/files
    Case("upload for A's template", "POST", "/v1/files", (404,), body=None, files=True,
         params=lambda a, b: {"callTemplateId": a.template["_id"]}),
    Case("upload from A's number", "POST", "/v1/files", (404,), files=True,
         params=lambda a, b: {"callTemplateId": b.template["_id"], "phoneNumberId": a.number["_id"]}),
    Case("list files", "GET", "/v1/files", (200,), check=lists_only_own(lambda b: b.file["_id"])),
    Case("list files of A's template", "GET", "/v1/files", (200,),
         params=lambda a, b: {"callTemplateId": a.template["_id"]},
         check=lambda r, a, b: _assert_equal(r.json()["data"], [])),
    Case("get A's file", "GET", "/v1/files/{file_id}", (404,)),
    Case("cancel A's file", "POST", "/v1/files/{file_id}/cancel", (404,)),
    Case("A's results", "GET", "/v1/files/{file_id}/results.csv", (404,)),
    Case("export calls", "GET", "/v1/phoneCalls/export.csv", (200,),
         check=lambda r, a, b: _assert_true(b.call["_id"] in r.text and a.call["_id"] not in r.text)),
    Case("export calls of A's file", "GET", "/v1/phoneCalls/export.csv", (200,),
         params=lambda a, b: {"fileId": a.file["_id"]},
         check=lambda r, a, b: _assert_equal(len(r.text.strip().splitlines()), 1)),
    # /v1/transcripts
    Case("A's transcript", "GET", "/v1/transcripts", (404,),
         params=lambda a, b: {"phoneCallId": a.call["_id"]}),
]  # fmt: skip


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


def _assert_true(value: bool) -> None:
    assert value


def assert_error_shape(response: httpx.Response, code: str | None = None) -> None:
    """The documented error body: ``{"error": {"code", "message", "details": [...]}}`` and nothing else."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    if code is not None:
        assert error["code"] == code, body


@pytest.fixture(scope="module")
def worlds(server: LiveServer) -> tuple[World, World]:
    """Team A and team B, each with one resource of every kind, shared by the cases of one backend.

    Sharing is safe: every case compares A's world before and after itself, and no case may change A.
    """
    a = build_world(server, server.new_team("Acme"), "+12025550191")
    b = build_world(server, server.new_team("Globex"), "+12025550192")
    return a, b


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_other_teams_resources_are_invisible_and_untouched(case: Case, worlds: tuple[World, World]) -> None:
    a, b = worlds
    a_before, b_before = a.snapshot(), b.snapshot()
    kwargs: dict[str, Any] = {}
    if case.body is not None:
        kwargs["json"] = case.body(a, b)
    if case.files and case.params is not None:
        kwargs["data"] = case.params(a, b)
        kwargs["files"] = {"file": ("b.csv", b"name,phone,customer_name\nB,+12025550132,B\n", "text/csv")}
    elif case.params is not None:
        kwargs["params"] = case.params(a, b)

    response = b.client.http.request(case.method, case.route.format(**a.path_ids()), **kwargs)

    assert response.status_code in case.expect, response.text
    assert a.team_id not in response.text and a.marker not in response.text
    if response.status_code >= 400:
        assert_error_shape(response, "not_found" if response.status_code == 404 else "validation_error")
        assert b.snapshot() == b_before, "a refused request wrote something"
    if case.check is not None:
        case.check(response, a, b)
    assert a.snapshot() == a_before


def test_every_v1_route_has_an_isolation_case(server: LiveServer) -> None:
    routes = api_endpoints(server.app)
    assert len(routes) >= 25, f"the route walk found too few routes: {sorted(routes)}"
    covered = {(case.method, case.route) for case in CASES}
    assert not routes - covered, f"endpoints without a tenant-isolation case: {sorted(routes - covered)}"
    assert not covered - routes, f"isolation cases for endpoints that do not exist: {sorted(covered - routes)}"
