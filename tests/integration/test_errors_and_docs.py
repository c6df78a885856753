"""The error contract (bad JSON, wrong types, oversized bodies, unknown routes) and the self-documentation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import LiveServer, TeamClient, api_endpoints, refuse_stack_traces

SOME_ID = "000000000000000000000000"
MIB = 1024 * 1024


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is ``status`` with the documented error body; returns the ``error`` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    assert "Traceback" not in response.text
    return error


def nothing_written(team: TeamClient) -> None:
    for path in ("/v1/phoneCalls", "/v1/callTemplates", "/v1/phoneNumbers", "/v1/doNotCall"):
        assert team.data(team.get(path)) == [], path


def call_body(**fields: Any) -> dict[str, Any]:
    body = {
        "callTemplateId": SOME_ID,
        "nameOfHuman": "John",
        "toPhoneNumber": "+12025550100",
        "promptVariableValues": [{"key": "customer_name", "value": "John"}],
    }
    return {**body, **fields}


CREATE_PATHS = ["/v1/phoneCalls", "/v1/phoneCalls/batch", "/v1/callTemplates", "/v1/phoneNumbers", "/v1/doNotCall"]


@pytest.mark.parametrize("raw", [b'{"name":', b"{", b"nope", b'{"name": "x",}', b"{'name': 'x'}", b"\xff\xfe"])
def test_malformed_json_answers_400(team: TeamClient, raw: bytes) -> None:
    for path in CREATE_PATHS:
        response = team.http.post(path, content=raw, headers={"content-type": "application/json"})
        assert_error(response, 400, "validation_error")
    response = team.http.patch("/v1/teams/me", content=raw, headers={"content-type": "application/json"})
    assert_error(response, 400, "validation_error")
    nothing_written(team)


@pytest.mark.parametrize("body", [[], [{"name": "x"}], "a string", 42, None, True])
def test_json_that_is_not_an_object_answers_400(team: TeamClient, body: Any) -> None:
    for path in CREATE_PATHS:
        error = assert_error(team.post(path, body), 400, "validation_error")
        assert error["details"], (path, error)
    assert_error(team.patch("/v1/teams/me", body), 400, "validation_error")
    nothing_written(team)


def test_json_that_is_not_an_object_is_refused_by_template_updates(team: TeamClient) -> None:
    template = team.add_template()
    for body in ([], "x", 1):
        for method in ("PATCH", "PUT"):
            response = team.http.request(method, f"/v1/callTemplates/{template['_id']}", json=body)
            assert_error(response, 400, "validation_error")
    assert team.data(team.get(f"/v1/callTemplates/{template['_id']}")) == template


WRONG_TYPES: list[tuple[str, str, Any, str]] = [
    # phone calls: every kind of field
    ("POST", "/v1/phoneCalls", call_body(nameOfHuman={"first": "J"}), "nameOfHuman"),
    ("POST", "/v1/phoneCalls", call_body(toPhoneNumber=["+12025550100"]), "toPhoneNumber"),
    ("POST", "/v1/phoneCalls", call_body(record="maybe"), "record"),
    ("POST", "/v1/phoneCalls", call_body(callDelayedUntil="tomorrow"), "callDelayedUntil"),
    ("POST", "/v1/phoneCalls", call_body(callDelayedUntil="0001-01-01T00:00:00+14:00"), "callDelayedUntil"),
    ("POST", "/v1/phoneCalls", call_body(callDelayedUntil="9999-12-31T23:00:00-14:00"), "callDelayedUntil"),
    ("POST", "/v1/phoneCalls", call_body(promptVariableValues="customer_name=John"), "promptVariableValues"),
    ("POST", "/v1/phoneCalls", call_body(promptVariableValues=[{"key": 5}]), "promptVariableValues.0.key"),
    ("POST", "/v1/phoneCalls", call_body(promptVariableValues=[{"key": "a", "value": {}}]),
     "promptVariableValues.0.value"),
    ("POST", "/v1/phoneCalls", call_body(phoneCallWebhooks=[1]), "phoneCallWebhooks.0"),
    ("POST", "/v1/phoneCalls", call_body(phoneCallWebhooks=[{"subscribedEvent": "x"}]), "phoneCallWebhooks.0.url"),
    ("POST", "/v1/phoneCalls", call_body(telephonyProvider="skype"), "telephonyProvider"),
    ("POST", "/v1/phoneCalls", call_body(status=3), "status"),
    ("POST", "/v1/phoneCalls", call_body(teamId=7), "teamId"),
    ("POST", "/v1/phoneCalls", call_body(toEmailAddress="not an email"), "toEmailAddress"),
    ("POST", "/v1/phoneCalls", call_body(callTemplateId=None), "callTemplateId"),
    ("POST", "/v1/phoneCalls", {"nameOfHuman": "John", "callTemplateId": SOME_ID}, "toPhoneNumber"),
    ("POST", "/v1/phoneCalls", call_body(nameOfHuman="Jo\u0000hn"), "nameOfHuman"),
    ("POST", "/v1/phoneCalls/batch", {"phoneCalls": {}}, "phoneCalls"),
    ("POST", "/v1/phoneCalls/batch", {"phoneCalls": []}, "phoneCalls"),
    ("POST", "/v1/phoneCalls/batch", {"phoneCalls": [call_body(), "x"]}, "phoneCalls.1"),
    # templates
    ("POST", "/v1/callTemplates", {"name": 5}, "name"),
    ("POST", "/v1/callTemplates", {"name": "T", "maxDurationSeconds": "long"}, "maxDurationSeconds"),
    ("POST", "/v1/callTemplates", {"name": "T", "retryPolicy": {"maxAttempts": "3x"}}, "retryPolicy.maxAttempts"),
    ("POST", "/v1/callTemplates", {"name": "T", "retryPolicy": {"retryOn": ["always"]}}, "retryPolicy.retryOn.0"),
    ("POST", "/v1/callTemplates", {"name": "T", "resultColumns": [{"columnName": "a", "type": "colour"}]},
     "resultColumns.0.type"),
    ("POST", "/v1/callTemplates", {"name": "T", "customTags": [{"name": "t", "keywords": "price"}]},
     "customTags.0.keywords"),
    ("POST", "/v1/callTemplates", {"name": "T", "customTags": [{"name": "t", "keywords": ["pri\u0000ce"]}]},
     "customTags.0.keywords"),
    ("POST", "/v1/callTemplates", {"name": "T", "callingWindow": "9-5"}, "callingWindow"),
    ("POST", "/v1/callTemplates", {"name": "T", "promptVariables": [{"key": "has space"}]}, "promptVariables.0.key"),
    ("POST", "/v1/callTemplates", {"name": "T\u0000"}, "name"),
    # numbers, team, keys, do-not-call
    ("POST", "/v1/phoneNumbers", {"number": "+12025550199", "concurrencyLimit": "lots"}, "concurrencyLimit"),
    ("POST", "/v1/phoneNumbers", {"number": "+12025550199", "callsPerSecond": "fast"}, "callsPerSecond"),
    ("POST", "/v1/phoneNumbers", {"number": "+12025550199", "isDefault": []}, "isDefault"),
    ("POST", "/v1/phoneNumbers", {"number": "+12025550199", "label": "a\u0000b"}, "label"),
    ("PATCH", f"/v1/phoneNumbers/{SOME_ID}", {"callsPerSecond": -1}, "callsPerSecond"),
    ("PATCH", "/v1/teams/me", {"concurrencyLimit": 1.5}, "concurrencyLimit"),
    ("PATCH", "/v1/teams/me", {"providerCredentials": "secret"}, "providerCredentials"),
    ("PATCH", "/v1/teams/me", {"name": "A\u0000"}, "name"),
    ("PATCH", "/v1/teams/me", {"defaultPhoneNumberId": "\u0000"}, "defaultPhoneNumberId"),
    ("PATCH", "/v1/teams/me", {"timeZone": "../../etc/passwd"}, "timeZone"),
    ("POST", "/v1/apiKeys", {"name": {"a": 1}}, "name"),
    ("POST", "/v1/doNotCall", {"number": "+12025550100", "reason": 5}, "reason"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), WRONG_TYPES, ids=[f"{w[3]}-{n}" for n, w in enumerate(WRONG_TYPES)]
)
def test_wrong_types_answer_400_naming_the_field(
    team: TeamClient, method: str, path: str, body: Any, field: str
) -> None:
    before = team.data(team.get("/v1/teams/me"))

    error = assert_error(team.http.request(method, path, json=body), 400, "validation_error")

    assert field in [d["field"] for d in error["details"]], error
    assert all(isinstance(d["message"], str) and d["message"] for d in error["details"])
    nothing_written(team)
    assert team.data(team.get("/v1/teams/me")) == before


def test_wrong_types_in_a_template_update_name_the_field(team: TeamClient) -> None:
    template = team.add_template()
    for body, field in (
        ({"language": 5}, "language"),
        ({"resultColumns": [{"columnName": 1}]}, "resultColumns.0.columnName"),
        ({"firstMessage": "Hi\u0000"}, "firstMessage"),
    ):
        error = assert_error(team.patch(f"/v1/callTemplates/{template['_id']}", body), 400, "validation_error")
        assert field in [d["field"] for d in error["details"]], error
    assert team.data(team.get(f"/v1/callTemplates/{template['_id']}")) == template


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "ten"}, "limit"),
        ({"createdAfter": "yesterday"}, "createdAfter"),
        ({"createdAfter": "0001-01-01T00:00:00+14:00"}, "createdAfter"),
        ({"createdBefore": "9999-12-31T23:00:00-14:00"}, "createdBefore"),
        ({"callTemplateId": "\u0000"}, "callTemplateId"),
        ({"fileId": "\u0000"}, "fileId"),
        ({"toPhoneNumber": "\u0000"}, "toPhoneNumber"),
    ],
)
def test_bad_query_parameters_answer_400_naming_them(team: TeamClient, params: dict[str, str], field: str) -> None:
    error = assert_error(team.get("/v1/phoneCalls", params=params), 400, "validation_error")
    assert field in [d["field"] for d in error["details"]], error


def test_path_ids_that_cannot_be_ids_answer_404(team: TeamClient) -> None:
    for method, path in (("DELETE", "/v1/apiKeys/%00"), ("DELETE", "/v1/doNotCall/%00"), ("GET", "/v1/phoneCalls/%00"),
                         ("GET", "/v1/callTemplates/%00"), ("GET", "/v1/phoneNumbers/%00"),
                         ("DELETE", "/v1/apiKeys/" + "x" * 300)):  # fmt: skip
        assert_error(team.http.request(method, path), 404, "not_found")
    assert_error(team.get("/v1/transcripts", params={"phoneCallId": "\u0000"}), 404, "not_found")


def big_batch_body() -> bytes:
    """A well-formed batch of about 6 MiB (over the default 5 MiB limit)."""
    item = b'{"callTemplateId": "%s", "toPhoneNumber": "+12025550100", "nameOfHuman": "%s"},' % (
        SOME_ID.encode(),
        b"x" * 150,
    )
    return b'{"phoneCalls": [' + item * (6 * MIB // len(item)) + b'{"callTemplateId": "x", "toPhoneNumber": "1"}]}'


def test_oversized_body_answers_413_and_writes_nothing(team: TeamClient) -> None:
    team.add_number()
    team.add_template()
    before = team.data(team.get("/v1/phoneCalls"))
    body = big_batch_body()
    assert len(body) > 6 * MIB - 1024

    response = team.http.post("/v1/phoneCalls/batch", content=body, headers={"content-type": "application/json"})

    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == []
    assert team.data(team.get("/v1/phoneCalls")) == before


def test_oversized_chunked_body_answers_413(team: TeamClient) -> None:
    body = big_batch_body()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    response = team.http.post("/v1/phoneCalls/batch", content=chunks(), headers={"content-type": "application/json"})

    assert "content-length" not in response.request.headers  # sent chunked: the limit is enforced while reading
    assert_error(response, 413, "payload_too_large")
    assert team.data(team.get("/v1/phoneCalls")) == []


def test_a_body_just_under_the_limit_is_read(team: TeamClient) -> None:
    padding = "x" * (4 * MIB)
    error = assert_error(team.post("/v1/callTemplates", {"name": "T", "prompt": "{{nope}}", "pad": padding}), 400,
                         "validation_error")  # fmt: skip
    assert [d["field"] for d in error["details"]] == ["prompt"]


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/phoneCalls/abc/def", "/nothing", "/v2/phoneCalls"])
def test_unknown_endpoint_answers_404(server: LiveServer, team: TeamClient, path: str) -> None:
    assert_error(team.get(path), 404, "not_found")
    assert_error(httpx.get(server.base_url + path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/v1/phoneCalls"), ("PUT", "/v1/teams/me"), ("GET", f"/v1/apiKeys/{SOME_ID}"),
     ("PATCH", "/v1/phoneCalls/" + SOME_ID), ("POST", "/v1/transcripts"), ("GET", f"/v1/phoneCalls/{SOME_ID}/cancel")],
)  # fmt: skip
def test_wrong_method_answers_405(team: TeamClient, method: str, path: str) -> None:
    assert_error(team.http.request(method, path), 405, "method_not_allowed")


def test_no_answer_carries_a_stack_trace_or_a_500(server: LiveServer, team: TeamClient) -> None:
    """Odd requests to every endpoint, with and without a key: never a 500, errors always in the error shape."""
    anonymous = httpx.Client(base_url=server.base_url, event_hooks={"response": [refuse_stack_traces]})
    requests: list[tuple[httpx.Client, str, str, dict[str, Any]]] = []
    for client in (team.http, anonymous):
        for method, path in sorted(api_endpoints(server.app)):
            concrete = path.replace("{", "").replace("}", "")
            for kwargs in ({}, {"content": b"\x00\xff{"}, {"json": {"name": ["x"] * 3, "number": {"a": None}}},
                           {"params": {"limit": "-1", "cursor": "\u0000", "phoneCallId": "../"}}):  # fmt: skip
                requests.append((client, method, concrete, kwargs))
    for client, method, path, kwargs in requests:
        response = client.request(method, path, **kwargs)
        assert response.status_code < 500, (method, path, kwargs, response.text)
        if client is anonymous:
            assert response.status_code in (400, 401), (method, path, kwargs, response.text)
        if response.status_code >= 400:
            assert_error(response, response.status_code, response.json()["error"]["code"])
    anonymous.close()
    nothing_written(team)


# --- documentation and health --------------------------------------------------------------------------------------


def test_openapi_lists_every_v1_path_with_the_aicaller_example(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/openapi.json")
    assert response.status_code == 200
    spec = response.json()

    served = {path for _method, path in api_endpoints(server.app)}
    assert served and served <= set(spec["paths"]), served - set(spec["paths"])
    create = spec["paths"]["/v1/phoneCalls"]["post"]
    example = create["requestBody"]["content"]["application/json"]["examples"]["aicaller"]["value"]
    assert example["callTemplateId"] == "363573667364666473667332"
    assert example["promptVariableValues"] == [{"key": "customer_name", "value": "John"}]
    assert example["phoneCallWebhooks"][0]["subscribedEvent"] == "phoneCall.completed"
    assert {"teamId", "nameOfHuman", "toPhoneNumber", "record", "callDelayedUntil", "telephonyProvider"} <= set(example)


def test_docs_page_is_html(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "openapi.json" in response.text


def test_health_check(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
