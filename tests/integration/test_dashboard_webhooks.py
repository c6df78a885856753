"""The webhooks page over real HTTP: subscribing (the secret shown once), the URL safety check as a form error,
editing, disabling and deleting; the delivery log with the receiver's answers from a real loopback receiver, and
sending a delivery again; and what is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.dashboard_client import (
    DashboardVisitor,
    assert_csrf_refused,
    assert_sign_in_redirect,
    signed_in,
    text_of,
    visitor,
)
from tests.integration.test_webhooks_delivery import HOOK_SETTINGS, Sink, drive, running_sink
from tests.support import LiveServer, TeamClient, running_server

PUBLIC = "https://hooks.example.com/opencaller"


def subscriptions(team: TeamClient) -> list[dict[str, Any]]:
    return team.data(team.get("/v1/webhooks"))  # type: ignore[no-any-return]


def test_signed_out_visitors_are_sent_to_sign_in(server: LiveServer) -> None:
    anonymous = visitor(server)
    assert_sign_in_redirect(anonymous.get("/dashboard/webhooks"))
    assert_sign_in_redirect(anonymous.get("/dashboard/webhooks/0123456789abcdef01234567"))


def test_subscribe_edit_disable_and_delete(browser: DashboardVisitor, team: TeamClient) -> None:
    page = browser.get("/dashboard/webhooks")
    assert page.status_code == 200 and "No subscriptions yet" in page.text and "No deliveries yet." in page.text

    created = browser.post("/dashboard/webhooks", {"url": PUBLIC, "events": ["phoneCall.completed", "phoneCall.ended"]})
    assert created.status_code == 200
    secret = re.search(r'id="new-secret" class="mono" value="(whsec_[^"]+)"', created.text)
    assert secret is not None
    assert "this is the only time it is shown" in text_of(created.text)
    [stored] = subscriptions(team)
    assert (stored["url"], stored["events"], stored["enabled"]) == (
        PUBLIC,
        ["phoneCall.completed", "phoneCall.ended"],
        True,
    )
    assert "secret" not in stored
    listing = browser.get("/dashboard/webhooks")
    assert secret.group(1) not in listing.text
    assert "phoneCall.completed, phoneCall.ended enabled" in text_of(listing.text)

    detail = browser.get(f"/dashboard/webhooks/{stored['_id']}")
    assert detail.status_code == 200 and secret.group(1) not in detail.text
    assert (
        'value="phoneCall.completed" checked' in detail.text and 'value="phoneCall.queued" checked' not in detail.text
    )

    saved = browser.post(f"/dashboard/webhooks/{stored['_id']}", {"url": PUBLIC + "/v2", "events": ["*"]})
    assert saved.status_code == 303  # "enabled" not ticked: the subscription is paused
    after = text_of(browser.get(saved.headers["location"]).text)
    assert "Saved." in after and "This subscription is disabled." in after
    [changed] = subscriptions(team)
    assert (changed["url"], changed["events"], changed["enabled"]) == (PUBLIC + "/v2", ["*"], False)

    confirm = browser.get(f"/dashboard/webhooks/{stored['_id']}/delete")
    assert confirm.status_code == 200 and "Delete the webhook to" in confirm.text
    assert len(subscriptions(team)) == 1  # asking changes nothing
    deleted = browser.post(f"/dashboard/webhooks/{stored['_id']}/delete")
    assert deleted.status_code == 303
    assert "The subscription was deleted." in browser.get(deleted.headers["location"]).text
    assert subscriptions(team) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": "http://127.0.0.1:8080/hook"}, "url", "refused"),
        ({"url": "http://10.1.2.3/hook"}, "url", "refused"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "refused"),
        ({"url": "http://localhost/hook"}, "url", "private targets are not allowed on this server"),
        ({"url": "ftp://hooks.example.com/"}, "url", "must start with http:// or https://"),
        ({"url": ""}, "url", "enter the URL"),
        ({"url": PUBLIC, "events": []}, "events", "at least one event"),
        ({"url": PUBLIC, "events": ["phoneCall.exploded"]}, "events", "unknown webhook event"),
    ],
)
def test_unsafe_urls_and_bad_events_are_form_errors(
    browser: DashboardVisitor, team: TeamClient, fields: dict[str, Any], field: str, message: str
) -> None:
    answer = browser.post("/dashboard/webhooks", {"events": ["*"], **fields})
    assert answer.status_code == 400, answer.text
    assert f'id="{field}-error"' in answer.text and message in text_of(answer.text)
    assert f'value="{fields["url"]}"' in answer.text  # the form keeps what was typed
    assert 'id="new-secret"' not in answer.text
    assert subscriptions(team) == []


def test_an_unsafe_url_is_refused_when_editing_too(browser: DashboardVisitor, team: TeamClient) -> None:
    made = team.data(team.post("/v1/webhooks", {"url": PUBLIC}))
    answer = browser.post(f"/dashboard/webhooks/{made['_id']}", {"url": "http://192.168.1.1/", "events": ["*"]})
    assert answer.status_code == 400 and 'id="url-error"' in answer.text
    assert [s["url"] for s in subscriptions(team)] == [PUBLIC]


def test_csrf_and_another_teams_subscription(
    browser: DashboardVisitor, team: TeamClient, other_team: TeamClient
) -> None:
    assert_csrf_refused(browser.post("/dashboard/webhooks", {"url": PUBLIC, "events": ["*"]}, csrf=False))
    assert subscriptions(team) == []

    theirs = other_team.data(other_team.post("/v1/webhooks", {"url": PUBLIC}))
    form = {"url": PUBLIC + "/mine", "events": ["*"], "enabled": "on"}
    assert_csrf_refused(browser.post(f"/dashboard/webhooks/{theirs['_id']}/delete", csrf=False))
    for path in (f"/dashboard/webhooks/{theirs['_id']}", f"/dashboard/webhooks/{theirs['_id']}/delete"):
        page = browser.get(path)
        assert page.status_code == 404 and "Not found" in page.text
    assert browser.post(f"/dashboard/webhooks/{theirs['_id']}", form).status_code == 404
    assert browser.post(f"/dashboard/webhooks/{theirs['_id']}/delete").status_code == 404
    assert [s["url"] for s in subscriptions(other_team)] == [PUBLIC]
    assert browser.post("/dashboard/webhooks/deliveries/0123456789abcdef01234567/redeliver").status_code == 404


@pytest.fixture(scope="module")
def hook_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server allowing loopback webhook targets, its worker off (the test runs a worker step by step)."""
    with running_server(backend, tmp_path_factory.mktemp(f"dashboard-hooks-{backend}"), **HOOK_SETTINGS) as live:
        yield live


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink(status=202) as receiver:
        yield receiver


def test_deliveries_show_the_receivers_answer_and_can_be_sent_again(hook_server: LiveServer, sink: Sink) -> None:
    team = hook_server.new_team("Hooked")
    team.add_number()
    template = team.add_template()
    browser = signed_in(hook_server, team)
    created = browser.post("/dashboard/webhooks", {"url": sink.url("/hook"), "events": ["phoneCall.queued"]})
    assert created.status_code == 200
    [sub] = subscriptions(team)

    call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    waiting = text_of(browser.get("/dashboard/webhooks").text)
    assert "phoneCall.queued" in waiting and "pending 0 —" in waiting

    drive(hook_server)
    [arrival] = sink.wait_for(lambda arrivals: len(arrivals) == 1)
    assert arrival.body["data"]["_id"] == call["_id"]
    page = browser.get("/dashboard/webhooks")
    row = re.search(r"<tr>\s*<td data-label=\"Created\">.*?</tr>", page.text, re.S)
    assert row is not None
    shown = text_of(row.group(0))
    assert "phoneCall.queued" in shown and call["_id"][-8:] in shown and "delivered 1 202" in shown
    assert f'href="/dashboard/calls/{call["_id"]}"' in row.group(0)
    mine = browser.get(f"/dashboard/webhooks/{sub['_id']}")
    assert "delivered 1 202" in text_of(mine.text)

    [delivery] = team.data(team.get("/v1/webhookDeliveries"))
    again = browser.post(f"/dashboard/webhooks/deliveries/{delivery['_id']}/redeliver")
    assert (
        again.status_code == 303 and again.headers["location"] == f"/dashboard/webhooks/{sub['_id']}?done=redelivered"
    )
    assert "The delivery will be sent again shortly." in browser.get(again.headers["location"]).text
    drive(hook_server)
    arrivals = sink.wait_for(lambda arrivals: len(arrivals) == 2)
    assert arrivals[1].msg_id == arrivals[0].msg_id  # the same webhook-id, sent again
    assert "delivered 2 202" in text_of(browser.get(f"/dashboard/webhooks/{sub['_id']}").text)
