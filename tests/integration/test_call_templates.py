"""``/v1/callTemplates`` over real HTTP: CRUD, ``{{variable}}`` checks, defaults, versions, deletion rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from opencaller.store.models import PhoneCall
from tests.support import LiveServer, TeamClient

FULL_TEMPLATE: dict[str, Any] = {
    "name": "Lead qualification",
    "prompt": "You are Ava from Acme calling {{nameOfHuman}} about {{product}}.",
    "firstMessage": "Hi {{nameOfHuman}}, this is Ava from Acme. Do you have a minute?",
    "promptVariables": [{"key": "product", "description": "What we sell", "required": True}],
    "resultColumns": [
        {"columnName": "city", "type": "text", "question": "Which city are you based in?"},
        {"columnName": "plan", "type": "choice", "choices": ["basic", "pro"]},
    ],
    "customTags": [{"name": "pricing", "keywords": ["price", "cost"]}],
    "voicemailMessage": "Hi {{nameOfHuman}}, Ava from Acme here.",
    "callingWindow": {"start": "09:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
    "retryPolicy": {"maxAttempts": 3, "retryOn": ["busy", "noAnswer"], "delaysMinutes": [30, 120]},
}


def error_fields(response: Any) -> dict[str, str]:
    """``{field: message}`` of a 400 validation error."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return {d["field"]: d["message"] for d in error["details"]}


def assert_includes(actual: Any, expected: Any, where: str = "") -> None:
    """Every value sent comes back (objects may carry extra, defaulted keys)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for key, value in expected.items():
            assert key in actual, f"{where}.{key}"
            assert_includes(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for n, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_includes(a, e, f"{where}.{n}")
    else:
        assert actual == expected, where


def template_versions(server: LiveServer, *call_ids: str) -> list[int]:
    """The template version each call was created with, read from the database."""

    async def read() -> list[int]:
        async with server.db.read() as session:
            rows = await session.scalars(select(PhoneCall).where(PhoneCall.id.in_(call_ids)))
            by_id = {c.id: c.template_version for c in rows}
            return [by_id[i] for i in call_ids]

    return server.run(read())


def test_create_get_list_round_trip(team: TeamClient) -> None:
    created = team.data(team.post("/v1/callTemplates", FULL_TEMPLATE))

    assert_includes(created, FULL_TEMPLATE)
    assert created["teamId"] == team.team_id
    assert created["version"] == 1
    assert team.data(team.get(f"/v1/callTemplates/{created['_id']}")) == created
    listed = team.get("/v1/callTemplates").json()
    assert listed["data"] == [created]
    assert listed["pagination"] == {"limit": 100, "nextCursor": None}


def test_defaults_are_filled_in(team: TeamClient) -> None:
    created = team.data(team.post("/v1/callTemplates", {"name": "Bare"}))

    assert created["language"] == "en-US"
    assert created["brain"] == {"type": "scripted"}
    assert created["retryPolicy"] == {"maxAttempts": 1, "retryOn": ["busy", "noAnswer"], "delaysMinutes": [60]}
    assert created["maxDurationSeconds"] == 600
    assert created["prompt"] == "" and created["firstMessage"] == ""
    assert created["promptVariables"] == [] and created["resultColumns"] == [] and created["customTags"] == []
    assert created["callingWindow"] is None


def test_list_pages_newest_first(team: TeamClient) -> None:
    ids = [team.data(team.post("/v1/callTemplates", {"name": f"T{n}"}))["_id"] for n in range(3)]
    first = team.get("/v1/callTemplates", params={"limit": 2}).json()
    second = team.get("/v1/callTemplates", params={"limit": 2, "cursor": first["pagination"]["nextCursor"]}).json()
    assert [t["_id"] for t in first["data"] + second["data"]] == ids[::-1]
    assert second["pagination"]["nextCursor"] is None


@pytest.mark.parametrize("field", ["prompt", "firstMessage", "voicemailMessage"])
def test_undeclared_placeholders_are_refused_by_name(team: TeamClient, field: str) -> None:
    body = {"name": "Bad", field: "Hello {{customer_name}}, about {{ product }} and {{nameOfHuman}}"}

    fields = error_fields(team.post("/v1/callTemplates", body))

    assert set(fields) == {field}
    assert "customer_name" in fields[field] and "product" in fields[field]
    assert "nameOfHuman" not in fields[field]
    assert team.get("/v1/callTemplates").json()["data"] == []


def test_unknown_placeholders_in_several_fields_are_each_named(team: TeamClient) -> None:
    fields = error_fields(team.post("/v1/callTemplates", {"name": "Bad", "prompt": "{{a}}", "firstMessage": "{{b}}"}))
    assert set(fields) == {"prompt", "firstMessage"}
    assert "a" in fields["prompt"] and "b" in fields["firstMessage"]


def test_built_in_and_declared_variables_are_allowed(team: TeamClient) -> None:
    body = {
        "name": "Builtins",
        "prompt": "Call {{nameOfHuman}} at {{toPhoneNumber}} ({{toEmailAddress}}) from {{fromPhoneNumber}}.",
        "firstMessage": "Hi {{nameOfHuman}}, about {{ order_id }}",
        "promptVariables": [{"key": "order_id", "required": False}],
    }
    created = team.data(team.post("/v1/callTemplates", body))
    assert created["prompt"] == body["prompt"]


def test_choice_column_needs_choices(team: TeamClient) -> None:
    for column in ({"columnName": "plan", "type": "choice"}, {"columnName": "plan", "type": "choice", "choices": []}):
        fields = error_fields(team.post("/v1/callTemplates", {"name": "Bad", "resultColumns": [column]}))
        assert "choices" in fields["resultColumns.0"]
    assert team.get("/v1/callTemplates").json()["data"] == []


def test_duplicate_names_are_refused(team: TeamClient) -> None:
    body = {"name": "Dupes", "promptVariables": [{"key": "a"}, {"key": "a"}]}
    fields = error_fields(team.post("/v1/callTemplates", body))
    assert "a" in fields["body"]


def test_unknown_fields_are_ignored(team: TeamClient) -> None:
    created = team.data(team.post("/v1/callTemplates", {"name": "Extra", "scriptContent": "x", "colour": 3}))
    patched = team.data(team.patch(f"/v1/callTemplates/{created['_id']}", {"colour": 4, "name": "Extra 2"}))
    assert "scriptContent" not in created and "colour" not in created and "colour" not in patched
    assert patched["name"] == "Extra 2"


def test_llm_brain_shape(team: TeamClient) -> None:
    brain = {"type": "llm", "model": "llama-3", "baseUrl": "https://api.groq.com/openai/v1", "temperature": 0.7}
    created = team.data(team.post("/v1/callTemplates", {"name": "LLM", "brain": brain}))
    assert created["brain"] == brain

    defaults = team.data(team.post("/v1/callTemplates", {"name": "LLM 2", "brain": {"type": "llm"}}))
    assert defaults["brain"] == {"type": "llm", "model": None, "baseUrl": None, "temperature": 0.3}

    for bad in ({"type": "oracle"}, {"type": "llm", "temperature": 5}, {"model": "x"}, "llm"):
        fields = error_fields(team.post("/v1/callTemplates", {"name": "Bad", "brain": bad}))
        assert all(f.startswith("brain") for f in fields), fields


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8000/v1",
        "http://169.254.169.254/latest",
        "http://10.0.0.5/v1",
        "http://2130706433/v1",
        "file:///etc/passwd",
    ],
)
def test_an_llm_base_url_the_server_must_not_fetch_is_refused(team: TeamClient, base_url: str) -> None:
    brain = {"type": "llm", "baseUrl": base_url}
    response = team.post("/v1/callTemplates", {"name": "Sneaky", "brain": brain})
    assert list(error_fields(response)) == ["brain.baseUrl"]
    created = team.data(team.post("/v1/callTemplates", {"name": "Fine"}))
    patched = team.patch(f"/v1/callTemplates/{created['_id']}", {"brain": brain})
    assert list(error_fields(patched)) == ["brain.baseUrl"]
    assert [t["name"] for t in team.data(team.get("/v1/callTemplates"))] == ["Fine"]
    assert team.data(team.get(f"/v1/callTemplates/{created['_id']}"))["brain"] == {"type": "scripted"}


@pytest.mark.parametrize(
    ("window", "field", "words"),
    [
        ({"start": "25:00", "end": "26:00"}, "callingWindow.start", "HH:MM"),
        ({"start": "09:00", "end": "9pm"}, "callingWindow.end", "HH:MM"),
        ({"start": "18:00", "end": "09:00"}, "callingWindow", "before"),
        ({"start": "09:00", "end": "09:00"}, "callingWindow", "before"),
        ({"days": ["mon", "funday"]}, "callingWindow.days", "mon"),
        ({"days": []}, "callingWindow.days", "non-empty"),
    ],
)
def test_calling_window_is_validated(team: TeamClient, window: dict[str, Any], field: str, words: str) -> None:
    fields = error_fields(team.post("/v1/callTemplates", {"name": "Window", "callingWindow": window}))
    assert field in fields, fields
    assert words in fields[field]


def test_calling_window_day_names_are_normalised(team: TeamClient) -> None:
    window = {"start": "08:30", "end": "17:45", "days": ["Monday", "TUE", "saturday"]}
    created = team.data(team.post("/v1/callTemplates", {"name": "Window", "callingWindow": window}))
    assert created["callingWindow"] == {"start": "08:30", "end": "17:45", "days": ["mon", "tue", "sat"]}


def test_patch_makes_a_new_version_and_keeps_other_fields(team: TeamClient) -> None:
    created = team.data(team.post("/v1/callTemplates", FULL_TEMPLATE))

    patched = team.data(team.patch(f"/v1/callTemplates/{created['_id']}", {"language": "de-DE"}))

    assert patched["version"] == 2
    assert patched["language"] == "de-DE"
    unchanged = {k: v for k, v in patched.items() if k not in ("language", "version", "updatedAt")}
    assert unchanged == {k: v for k, v in created.items() if k not in ("language", "version", "updatedAt")}
    assert team.data(team.get(f"/v1/callTemplates/{created['_id']}")) == patched


def test_refused_patch_changes_nothing(team: TeamClient) -> None:
    created = team.add_template()
    path = f"/v1/callTemplates/{created['_id']}"

    for body in ({"prompt": "{{undeclared}}"}, {"name": ""}, {"maxDurationSeconds": 5}, {"brain": {"type": "x"}}):
        response = team.patch(path, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["details"], body

    assert team.data(team.get(path)) == created


def test_put_replaces_the_whole_definition(team: TeamClient) -> None:
    created = team.data(team.post("/v1/callTemplates", FULL_TEMPLATE))

    replaced = team.data(team.put(f"/v1/callTemplates/{created['_id']}", {"name": "Fresh"}))

    assert replaced["version"] == 2 and replaced["name"] == "Fresh"
    assert replaced["prompt"] == "" and replaced["resultColumns"] == [] and replaced["callingWindow"] is None


def test_calls_keep_the_version_they_were_made_with(server: LiveServer, team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    path = f"/v1/callTemplates/{template['_id']}"
    v1_call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))

    # v2 adds a required variable the v1 call has no value for
    v2 = team.data(
        team.patch(
            path,
            {
                "promptVariables": [{"key": "customer_name"}, {"key": "product", "required": True}],
                "prompt": "Sell {{product}}",
            },
        )
    )
    assert v2["version"] == 2

    # the v1 call is untouched and still valid; a new call must now give the new variable
    assert team.data(team.get(f"/v1/phoneCalls/{v1_call['_id']}")) == v1_call
    refused = team.post("/v1/phoneCalls", team.call_body(template["_id"]))
    assert "product" in error_fields(refused)["promptVariableValues"]
    v2_call = team.data(
        team.post(
            "/v1/phoneCalls",
            team.call_body(
                template["_id"],
                promptVariableValues=[{"key": "customer_name", "value": "J"}, {"key": "product", "value": "tea"}],
            ),
        )
    )
    assert template_versions(server, v1_call["_id"], v2_call["_id"]) == [1, 2]


def test_delete_in_use_is_a_conflict(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    team.data(team.post(f"/v1/phoneCalls/{call['_id']}/cancel"))

    response = team.delete(f"/v1/callTemplates/{template['_id']}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert team.data(team.get(f"/v1/callTemplates/{template['_id']}")) == template


def test_delete_unused_then_it_is_gone(team: TeamClient) -> None:
    team.add_number()
    template = team.add_template()
    path = f"/v1/callTemplates/{template['_id']}"

    assert team.data(team.delete(path)) == {"_id": template["_id"], "deleted": True}

    for response in (team.get(path), team.patch(path, {"name": "x"}), team.delete(path)):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert team.get("/v1/callTemplates").json()["data"] == []
    assert team.post("/v1/phoneCalls", team.call_body(template["_id"])).status_code == 404
    assert team.get("/v1/phoneCalls").json()["data"] == []


def test_unknown_and_malformed_template_ids_answer_404(team: TeamClient) -> None:
    for template_id in ("000000000000000000000000", "not-an-id", "12345678901234567890"):
        response = team.get(f"/v1/callTemplates/{template_id}")
        assert response.status_code == 404, template_id
        assert response.json()["error"]["code"] == "not_found"
