"""The dashboard's pages over real HTTP on SQLite and PostgreSQL: sign-in and its session cookie, CSRF, tenant
isolation, the calls list's filters and pages, the template form's validation and the test-call form.

What a browser adds (rendering, htmx, a phone-size screen, a real call) is in test_dashboard_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from opencaller.app import create_app
from opencaller.settings import Settings
from tests.support import LiveServer, TeamClient

NO_CALLS_BEFORE = "2099-01-01T00:00:00Z"
"""Calls created here are delayed far into the future: they are data for the pages, never dialled."""


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def browser(server: LiveServer) -> httpx.Client:
    """A cookie-keeping client that does not follow redirects (so the tests see them)."""
    return httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30)


def signed_in(server: LiveServer, team: TeamClient) -> httpx.Client:
    """A client signed in to the dashboard with ``team``'s key."""
    client = browser(server)
    token = csrf_token(client.get("/dashboard/sign-in"))
    answer = client.post("/dashboard/sign-in", data={"csrf_token": token, "api_key": team.api_key})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/calls", answer.text
    return client


def error_list(page: httpx.Response) -> dict[str, str]:
    """The error summary of a form page, by field."""
    return dict(re.findall(r'<li><span class="mono">([^<]+)</span>: ([^<]+)</li>', page.text))


# --- signing in ----------------------------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in_and_back(server: LiveServer, team: TeamClient) -> None:
    client = browser(server)
    answer = client.get("/dashboard/calls", params={"status": "queued"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?next=%2Fdashboard%2Fcalls%3Fstatus%3Dqueued"
    polled = client.get("/dashboard/calls/rows", headers={"HX-Request": "true"})
    assert polled.status_code == 204 and polled.headers["HX-Redirect"].startswith("/dashboard/sign-in?next=")

    token = csrf_token(client.get(answer.headers["location"]))
    back = client.post(
        "/dashboard/sign-in",
        data={"csrf_token": token, "api_key": team.api_key, "next": "/dashboard/calls?status=queued"},
    )
    assert back.status_code == 303 and back.headers["location"] == "/dashboard/calls?status=queued"
    assert client.get("/dashboard/calls").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/dashboard/calls", "//evil.example/x", "/v1/phoneCalls"])
def test_sign_in_never_redirects_off_the_dashboard(server: LiveServer, team: TeamClient, target: str) -> None:
    client = browser(server)
    token = csrf_token(client.get("/dashboard/sign-in"))
    answer = client.post("/dashboard/sign-in", data={"csrf_token": token, "api_key": team.api_key, "next": target})
    assert answer.headers["location"] == "/dashboard/calls"


def test_a_bad_key_is_refused_with_a_message(server: LiveServer, team: TeamClient) -> None:
    client = browser(server)
    token = csrf_token(client.get("/dashboard/sign-in"))
    for key in ("oc_unknown", "", team.api_key + "x"):
        answer = client.post("/dashboard/sign-in", data={"csrf_token": token, "api_key": key})
        assert answer.status_code == 401
        assert 'role="alert"' in answer.text and "Traceback" not in answer.text
    assert client.get("/dashboard/calls").status_code == 303, "a refused key signs nobody in"


def test_the_session_cookie_is_sealed_http_only_and_lax(server: LiveServer, team: TeamClient) -> None:
    client = browser(server)
    first = client.get("/dashboard/sign-in")
    token = csrf_token(first)
    signed = client.post("/dashboard/sign-in", data={"csrf_token": token, "api_key": team.api_key})
    header = signed.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/dashboard" in header
    assert "Secure" not in header, "the test server is reached over plain http"
    cookie = client.cookies["opencaller_dashboard"]
    assert team.api_key not in cookie and team.team_id not in cookie
    assert csrf_token(client.get("/dashboard/calls")) != token, "signing in starts a session with a new token"


def test_the_cookie_is_secure_when_the_public_url_is_https(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret", telephony="none", public_url="https://oc.example")
    app = create_app(settings, migrate=False)
    answer = TestClient(app, base_url="https://oc.example").get("/dashboard/sign-in")  # no lifespan: no database
    assert answer.status_code == 200
    assert "Secure" in answer.headers["set-cookie"]


def test_a_tampered_or_foreign_cookie_signs_nobody_in(server: LiveServer, team: TeamClient) -> None:
    client = signed_in(server, team)
    sealed = client.cookies["opencaller_dashboard"]
    for forged in (sealed[:-4] + "AAAA", "not-a-cookie", sealed.replace(sealed[20], "x" if sealed[20] != "x" else "y")):
        client.cookies.clear()
        client.cookies.set("opencaller_dashboard", forged, path="/dashboard")
        assert client.get("/dashboard/calls").status_code == 303


def test_revoking_the_key_ends_its_dashboard_sessions(server: LiveServer, team: TeamClient) -> None:
    spare = team.data(team.post("/v1/apiKeys", {"name": "spare"}))
    client = signed_in(server, team)
    assert client.get("/dashboard/calls").status_code == 200
    keys = team.data(team.get("/v1/apiKeys"))
    first = next(k for k in keys if k["_id"] != spare["_id"])
    revoker = httpx.Client(base_url=server.base_url, headers={"aicaller-api-key": spare["apiKey"]})
    assert revoker.delete(f"/v1/apiKeys/{first['_id']}").status_code == 200

    answer = client.get("/dashboard/calls")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/dashboard/sign-in")


def test_sign_out_needs_the_token_and_ends_the_session(server: LiveServer, team: TeamClient) -> None:
    client = signed_in(server, team)
    assert client.post("/dashboard/sign-out").status_code == 403
    assert client.get("/dashboard/calls").status_code == 200
    token = csrf_token(client.get("/dashboard/calls"))
    assert client.post("/dashboard/sign-out", data={"csrf_token": token}).status_code == 200
    assert client.get("/dashboard/calls").status_code == 303


# --- CSRF, isolation, errors, headers ------------------------------------------------------------------------------


def test_posts_without_the_sessions_token_are_refused(server: LiveServer, team: TeamClient) -> None:
    client = signed_in(server, team)
    other_session = signed_in(server, team)
    stolen = csrf_token(other_session.get("/dashboard/templates/new"))
    for data in ({"name": "X"}, {"name": "X", "csrf_token": ""}, {"name": "X", "csrf_token": stolen}):
        answer = client.post("/dashboard/templates", data=data)
        assert answer.status_code == 403
        assert "<h1>Forbidden</h1>" in answer.text
    assert team.data(team.get("/v1/callTemplates")) == []
    token = csrf_token(client.get("/dashboard/templates/new"))
    header = client.post("/dashboard/templates", data={"name": "X", "add": "tags"}, headers={"X-CSRF-Token": token})
    assert header.status_code == 200, "htmx sends the token as a header"


def test_another_teams_call_and_template_are_not_found(
    server: LiveServer, team: TeamClient, other_team: TeamClient
) -> None:
    other_team.add_number()
    template = other_team.add_template(name="Their secret template")
    call = other_team.data(
        other_team.post("/v1/phoneCalls", other_team.call_body(template["_id"], callDelayedUntil=NO_CALLS_BEFORE))
    )
    client = signed_in(server, team)
    for path in (
        f"/dashboard/calls/{call['_id']}",
        f"/dashboard/calls/{call['_id']}/live",
        f"/dashboard/templates/{template['_id']}",
        f"/dashboard/templates/{template['_id']}/test-call",
        "/dashboard/calls/not-an-id",
        "/dashboard/no-such-page",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "<h1>Not found</h1>" in answer.text and "Their secret template" not in answer.text
    listed = client.get("/dashboard/calls")
    assert call["_id"] not in listed.text
    token = csrf_token(listed)
    edit = client.post(f"/dashboard/templates/{template['_id']}", data={"csrf_token": token, "name": "Mine now"})
    assert edit.status_code == 404
    assert other_team.data(other_team.get(f"/v1/callTemplates/{template['_id']}"))["name"] == "Their secret template"


def test_pages_carry_security_headers(server: LiveServer, team: TeamClient) -> None:
    client = signed_in(server, team)
    for path in ("/dashboard/sign-in", "/dashboard/calls", "/dashboard/templates/new", "/dashboard/nope"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
    assert client.get("/dashboard/").headers["location"] == "/dashboard/calls"
    static = client.get("/dashboard/static/htmx.min.js")
    assert static.status_code == 200 and static.text.startswith("var htmx=")


# --- calls ---------------------------------------------------------------------------------------------------------


def test_calls_list_filters_and_pages_like_the_api(server: LiveServer, team: TeamClient) -> None:
    team.add_number()
    survey = team.add_template(name="Survey")
    other = team.add_template(name="Renewals")
    bodies = [
        team.call_body(survey["_id"], toPhoneNumber=f"+120255501{i:02d}", callDelayedUntil=NO_CALLS_BEFORE)
        for i in range(27)
    ]
    bodies.append(team.call_body(other["_id"], toPhoneNumber="+12025550177", callDelayedUntil=NO_CALLS_BEFORE))
    team.data(team.post("/v1/phoneCalls/batch", {"phoneCalls": bodies}))
    client = signed_in(server, team)

    def rows(page: httpx.Response) -> list[str]:
        return re.findall(r'<a href="/dashboard/calls/[0-9a-f]{24}">([^<]+)</a>', page.text)

    first = client.get("/dashboard/calls")
    assert rows(first)[0] == "+12025550177" and len(rows(first)) == 25
    older = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert len(rows(second)) == 3 and rows(second)[-1] == "+12025550100"
    assert 'rel="next"' not in second.text

    by_template = client.get("/dashboard/calls", params={"callTemplateId": other["_id"]})
    assert rows(by_template) == ["+12025550177"]
    by_number = client.get("/dashboard/calls", params={"toPhoneNumber": "+1 (202) 555-0105", "status": ""})
    assert rows(by_number) == ["+12025550105"]
    assert rows(client.get("/dashboard/calls", params={"status": "completed"})) == []
    after = client.get("/dashboard/calls", params={"createdAfter": "2099-01-01T00:00"})
    assert rows(after) == []

    bad = client.get("/dashboard/calls", params={"status": "done", "toPhoneNumber": "12", "createdBefore": "soon"})
    assert bad.status_code == 400
    assert "must be one of queued" in bad.text and "must be a date and time" in bad.text
    assert rows(bad) == []

    live = client.get("/dashboard/calls/rows", params={"callTemplateId": other["_id"]})
    assert live.text.startswith('<tbody id="call-rows" hx-get=') and "+12025550177" in live.text


def test_call_page_shows_the_call_and_its_webhook_deliveries(server: LiveServer, team: TeamClient) -> None:
    team.add_number()
    team.data(team.post("/v1/webhooks", {"url": "https://hooks.example.com/opencaller", "events": ["*"]}))
    template = team.add_template(name="Survey")
    call = team.data(
        team.post("/v1/phoneCalls", team.call_body(template["_id"], nameOfHuman="Jo", callDelayedUntil=NO_CALLS_BEFORE))
    )
    client = signed_in(server, team)
    page = client.get(f"/dashboard/calls/{call['_id']}")
    assert page.status_code == 200
    assert "<h1>Call to +12025550100 (Jo)</h1>" in page.text
    assert 'id="call-status" role="status">queued<' in page.text
    assert f'hx-get="/dashboard/calls/{call["_id"]}/live"' in page.text, "a call under way refreshes itself"
    assert '<meta http-equiv="refresh"' in page.text, "and without JavaScript the page reloads itself"
    assert "phoneCall.queued" in page.text and "https://hooks.example.com/opencaller" in page.text
    assert "<dt>customer_name</dt><dd>John</dd>" in page.text


# --- templates and test calls --------------------------------------------------------------------------------------


def test_template_form_shows_the_engines_errors_and_saves_nothing(server: LiveServer, team: TeamClient) -> None:
    client = signed_in(server, team)
    token = csrf_token(client.get("/dashboard/templates/new"))
    form = {
        "csrf_token": token,
        "name": "",
        "firstMessage": "Hi {{who}}",
        "columns-0-columnName": "plan",
        "columns-0-type": "choice",
        "windowEnabled": "on",
        "windowDays": ["mon", "fri"],
        "windowStart": "25:00",
        "windowEnd": "18:00",
        "maxAttempts": "0",
        "delaysMinutes": "10, soon",
        "brainType": "llm",
        "brainTemperature": "3",
    }
    answer = client.post("/dashboard/templates", data=form)
    assert answer.status_code == 400
    errors = error_list(answer)
    assert set(errors) == {
        "name",
        "resultColumns.0",
        "callingWindow.start",
        "retryPolicy.maxAttempts",
        "retryPolicy.delaysMinutes",
        "brain.temperature",
    }
    assert "choices" in errors["resultColumns.0"]
    assert 'aria-describedby="resultColumns-0-choices-error"' in answer.text, "the choices input points at its message"
    assert re.search(r'<p class="error" id="resultColumns-0-choices-error">[^<]*choices', answer.text)
    assert 'value="10, soon"' in answer.text, "the form comes back as typed"

    fixed = {**form, "name": "Plans", "columns-0-choices": "basic, pro", "windowStart": "09:00", "maxAttempts": "2"}
    fixed.update(delaysMinutes="10", brainTemperature="0.2")
    unknown = client.post("/dashboard/templates", data=fixed)
    assert error_list(unknown) == {"firstMessage": "unknown variables: who (declare them in promptVariables)"}
    assert team.data(team.get("/v1/callTemplates")) == [], "nothing is saved while the form has errors"

    fixed.update({"variables-0-key": "who", "variables-0-required": "on"})
    saved = client.post("/dashboard/templates", data=fixed)
    assert saved.status_code == 303
    (stored,) = team.data(team.get("/v1/callTemplates"))
    assert stored["resultColumns"][0]["choices"] == ["basic", "pro"]
    assert stored["brain"] == {"type": "llm", "model": None, "baseUrl": None, "temperature": 0.2}
    assert stored["callingWindow"] == {"start": "09:00", "end": "18:00", "days": ["mon", "fri"]}


def test_editing_a_template_makes_a_new_version(server: LiveServer, team: TeamClient) -> None:
    created = team.add_template(
        name="Survey", resultColumns=[{"columnName": "city", "question": "Which city?"}], voice="amy"
    )
    client = signed_in(server, team)
    page = client.get(f"/dashboard/templates/{created['_id']}")
    assert 'value="city"' in page.text and 'value="customer_name"' in page.text
    form = {
        "csrf_token": csrf_token(page),
        "name": "Survey v2",
        "firstMessage": "Hello {{customer_name}}",
        "variables-0-key": "customer_name",
        "variables-0-required": "on",
        "columns-0-columnName": "city",
        "columns-0-type": "text",
        "columns-0-question": "Where do you live?",
        "columns-1-columnName": "",
        "brainType": "scripted",
        "voice": "amy",
        "maxAttempts": "1",
        "delaysMinutes": "60",
        "retryOn": ["busy"],
    }
    answer = client.post(f"/dashboard/templates/{created['_id']}", data=form)
    assert answer.status_code == 303 and answer.headers["location"].endswith("?saved=1")
    stored = team.data(team.get(f"/v1/callTemplates/{created['_id']}"))
    assert (stored["name"], stored["version"], stored["firstMessage"]) == ("Survey v2", 2, "Hello {{customer_name}}")
    assert stored["resultColumns"] == [
        {"columnName": "city", "description": "", "type": "text", "choices": None, "question": "Where do you live?"}
    ]
    assert stored["retryPolicy"]["retryOn"] == ["busy"]
    assert "Saved as version 2." in client.get(answer.headers["location"]).text


def test_test_call_form_creates_a_dashboard_call(server: LiveServer, team: TeamClient) -> None:
    template = team.add_template(name="Survey")
    client = signed_in(server, team)
    form_page = client.get(f"/dashboard/templates/{template['_id']}/test-call")
    assert "add a phone number" in form_page.text and "disabled" in form_page.text
    team.add_number()
    form_page = client.get(f"/dashboard/templates/{template['_id']}/test-call")
    assert 'id="otherNumber"' in form_page.text and 'type="radio"' not in form_page.text, "no simulator: no callees"
    token = csrf_token(form_page)

    refused = client.post(
        f"/dashboard/templates/{template['_id']}/test-call",
        data={"csrf_token": token, "callee": "other", "otherNumber": "555", "var-customer_name": ""},
    )
    assert refused.status_code == 400
    assert set(error_list(refused)) == {"toPhoneNumber", "promptVariableValues"}
    assert team.data(team.get("/v1/phoneCalls")) == []

    placed = client.post(
        f"/dashboard/templates/{template['_id']}/test-call",
        data={"csrf_token": token, "callee": "other", "otherNumber": "+1 202 555 0104", "nameOfHuman": "Sam",
              "var-customer_name": "Sam"},
    )  # fmt: skip
    assert placed.status_code == 303
    (call,) = team.data(team.get("/v1/phoneCalls"))
    assert placed.headers["location"] == f"/dashboard/calls/{call['_id']}"
    assert (call["toPhoneNumber"], call["nameOfHuman"], call["callOrigin"]) == ("+12025550104", "Sam", "dashboard")
    assert call["promptVariableValues"] == [{"key": "customer_name", "value": "Sam"}]
