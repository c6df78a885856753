"""``/v1/phoneCalls`` over real HTTP on SQLite and PostgreSQL: the aicaller examples, validation, pagination."""

from __future__ import annotations

import re

import httpx

from tests.support import LiveServer, TeamClient

ID_RE = re.compile(r"^[0-9a-f]{24}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AICALLER_FIELDS = {
    "_id", "teamId", "callTemplateId", "nameOfHuman", "toPhoneNumber", "promptVariableValues", "resultValues",
    "fileId", "fileName", "callTriggeredAt", "callStartedAt", "callEndedAt", "createdAt", "updatedAt",
    "phoneNumberId", "fromPhoneNumber", "toEmailAddress", "status", "telephonyProvider", "record",
    "callDelayedUntil", "phoneCallWebhooks", "statusExtraInfo", "fixedMeetingTime", "recordingUrl", "callDuration",
    "callOrigin", "customTagsHitOnCall",
}  # fmt: skip


def reference_body(team: TeamClient, template_id: str, number: dict[str, object]) -> dict[str, object]:
    """The create example from the aicaller reference, with this team's ids and real numbers."""
    return {
        "teamId": team.team_id,
        "phoneNumberId": number["_id"],
        "callTemplateId": template_id,
        "nameOfHuman": "John",
        "fromPhoneNumber": number["number"],
        "toPhoneNumber": "+12025550100",
        "toEmailAddress": "someone@email.com",
        "status": "queued",
        "telephonyProvider": "twilio",
        "promptVariableValues": [{"key": "customer_name", "value": "John"}],
        "record": False,
        "callDelayedUntil": "2023-10-12T09:08:00.387Z",
        "phoneCallWebhooks": [
            {
                "url": "https://hooks.abc.com/",
                "subscribedEvent": "phoneCall.completed",
                "secret": "NjUyOTgwMjkpJU0NmY25yzWkJFWDBE12",
            }
        ],
        "scriptContent": "ignored by the server",
    }


def test_reference_create_get_and_list(team: TeamClient) -> None:
    number = team.add_number()
    template = team.add_template()
    body = reference_body(team, template["_id"], number)

    created = team.data(team.post("/v1/phoneCalls", body))

    assert ID_RE.match(created["_id"])
    assert set(created) >= AICALLER_FIELDS
    assert TS_RE.match(created["createdAt"]) and TS_RE.match(created["updatedAt"])
    for key in (
        "teamId",
        "phoneNumberId",
        "callTemplateId",
        "nameOfHuman",
        "fromPhoneNumber",
        "toPhoneNumber",
        "toEmailAddress",
        "status",
        "telephonyProvider",
        "promptVariableValues",
        "record",
        "callDelayedUntil",
    ):
        assert created[key] == body[key], key  # fmt: skip
    assert created["callOrigin"] == "api"
    assert created["phoneCallWebhooks"] == [{"url": "https://hooks.abc.com/", "subscribedEvent": "phoneCall.completed"}]
    assert "scriptContent" not in created

    fetched = team.data(team.get(f"/v1/phoneCalls/{created['_id']}"))
    assert fetched == created

    listed = team.get("/v1/phoneCalls", params={"callTemplateId": template["_id"]}).json()
    assert [c["_id"] for c in listed["data"]] == [created["_id"]]
    assert listed["pagination"] == {"limit": 100, "nextCursor": None}


def test_reference_batch_keeps_order(team: TeamClient) -> None:
    number = team.add_number()
    template = team.add_template()
    items = []
    for n in range(3):
        item = reference_body(team, template["_id"], number)
        item["toPhoneNumber"] = f"+1202555010{n}"
        items.append(item)

    created = team.data(team.post("/v1/phoneCalls/batch", {"phoneCalls": items}))

    assert [c["toPhoneNumber"] for c in created] == ["+12025550100", "+12025550101", "+12025550102"]
    assert len({c["_id"] for c in created}) == 3


def test_bearer_token_is_accepted(server: LiveServer, team: TeamClient) -> None:
    response = httpx.get(f"{server.base_url}/v1/teams/me", headers={"Authorization": f"Bearer {team.api_key}"})
    assert response.status_code == 200
    assert response.json()["data"]["_id"] == team.team_id


def test_missing_and_wrong_keys_answer_401(server: LiveServer) -> None:
    missing = httpx.get(f"{server.base_url}/v1/phoneCalls")
    wrong = httpx.get(f"{server.base_url}/v1/phoneCalls", headers={"aicaller-api-key": "oc_not-a-key"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_numbers_are_normalised_to_e164(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    created = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], toPhoneNumber="+1 (202) 555-0100")))
    assert created["toPhoneNumber"] == "+12025550100"


def test_invalid_call_is_refused_with_every_problem_named(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    body = team.call_body(template["_id"], toPhoneNumber="555-0100", promptVariableValues=[])

    response = team.post("/v1/phoneCalls", body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {d["field"]: d["message"] for d in error["details"]}
    assert "toPhoneNumber" in fields
    assert "customer_name" in fields["promptVariableValues"]
    assert team.get("/v1/phoneCalls").json()["data"] == []


def test_status_other_than_queued_is_refused(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    response = team.post("/v1/phoneCalls", team.call_body(template["_id"], status="completed"))
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "status"


def test_without_any_caller_number_the_error_says_so(team: TeamClient) -> None:
    template = team.add_template()
    response = team.post("/v1/phoneCalls", team.call_body(template["_id"]))
    assert response.status_code == 400
    assert "default number" in response.json()["error"]["details"][0]["message"]


def test_from_number_must_be_the_teams_own(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    response = team.post("/v1/phoneCalls", team.call_body(template["_id"], fromPhoneNumber="+12025550142"))
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "fromPhoneNumber"


def test_batch_is_all_or_nothing_and_names_bad_items_by_index(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    good = team.call_body(template["_id"])
    bad_number = team.call_body(template["_id"], toPhoneNumber="not a number")
    bad_type = team.call_body(template["_id"], record="maybe")

    semantic = team.post("/v1/phoneCalls/batch", {"phoneCalls": [good, bad_number, good]})
    typed = team.post("/v1/phoneCalls/batch", {"phoneCalls": [good, good, bad_type]})

    assert semantic.status_code == 400
    assert [d["field"] for d in semantic.json()["error"]["details"]] == ["phoneCalls.1.toPhoneNumber"]
    assert typed.status_code == 400
    assert [d["field"] for d in typed.json()["error"]["details"]] == ["phoneCalls.2.record"]
    assert team.get("/v1/phoneCalls").json()["data"] == []


def test_batch_size_is_limited_to_1000(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    response = team.post("/v1/phoneCalls/batch", {"phoneCalls": [team.call_body(template["_id"])] * 1001})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "phoneCalls"


def test_cursor_pagination_walks_every_call_once(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    items = [team.call_body(template["_id"], toPhoneNumber=f"+1202555{n:04d}") for n in range(100, 125)]
    created = team.data(team.post("/v1/phoneCalls/batch", {"phoneCalls": items}))

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 10}
        if cursor:
            params["cursor"] = cursor
        body = team.get("/v1/phoneCalls", params=params).json()
        seen += [c["_id"] for c in body["data"]]
        pages += 1
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == sorted((c["_id"] for c in created), reverse=True)


def test_list_filters(team: TeamClient) -> None:
    team.add_number()
    first = team.add_template()
    second = team.add_template(name="Other")
    a = team.data(team.post("/v1/phoneCalls", team.call_body(first["_id"], toPhoneNumber="+12025550111")))
    b = team.data(team.post("/v1/phoneCalls", team.call_body(second["_id"], toPhoneNumber="+12025550112")))
    team.data(team.post(f"/v1/phoneCalls/{b['_id']}/cancel"))

    def ids(**params: object) -> list[str]:
        return [c["_id"] for c in team.get("/v1/phoneCalls", params=params).json()["data"]]

    assert ids(callTemplateId=first["_id"]) == [a["_id"]]
    assert ids(status="cancelled") == [b["_id"]]
    assert ids(status="canceled") == [b["_id"]]
    assert ids(status="queued") == [a["_id"]]
    assert ids(toPhoneNumber="+1 202 555 0112") == [b["_id"]]
    assert ids(createdAfter="2000-01-01T00:00:00Z", createdBefore="2000-01-02T00:00:00Z") == []
    assert set(ids(createdAfter="2000-01-01T00:00:00Z")) == {a["_id"], b["_id"]}


def test_bad_list_parameters_answer_400(team: TeamClient) -> None:
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"cursor": "zzz"}, {"status": "done"},
                   {"createdAfter": "yesterday"}):  # fmt: skip
        response = team.get("/v1/phoneCalls", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "validation_error"


def test_cancel_only_before_answer(server: LiveServer, team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    queued = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    answered = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    _set_status(server, answered["_id"], "inProgress")

    cancelled = team.data(team.post(f"/v1/phoneCalls/{queued['_id']}/cancel"))
    again = team.post(f"/v1/phoneCalls/{queued['_id']}/cancel")
    refused = team.post(f"/v1/phoneCalls/{answered['_id']}/cancel")

    assert cancelled["status"] == "cancelled"
    assert again.status_code == 409
    assert refused.status_code == 409
    assert team.data(team.get(f"/v1/phoneCalls/{answered['_id']}"))["status"] == "inProgress"


def test_unknown_and_malformed_ids_answer_404(team: TeamClient) -> None:
    for path in ("/v1/phoneCalls/000000000000000000000000", "/v1/phoneCalls/not-an-id",
                 "/v1/phoneCalls/12345678901234567890/cancel"):  # fmt: skip
        response = team.get(path) if not path.endswith("cancel") else team.post(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def _set_status(server: LiveServer, call_id: str, status: str) -> None:
    """Move a call as the engine would (the engine itself lands with the dispatcher)."""
    from opencaller.store.models import PhoneCall

    async def update() -> None:
        async with server.db.transaction() as session:
            call = await session.get(PhoneCall, call_id)
            assert call is not None
            call.status = status

    server.run(update())
