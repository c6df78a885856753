"""The API-keys page over real HTTP: the list never shows a key, a new key is shown once and works, revoking asks
first, and revoking the session's own key signs the viewer out."""

from __future__ import annotations

import re

import httpx

from tests.integration.dashboard_client import (
    DashboardVisitor,
    assert_csrf_refused,
    assert_sign_in_redirect,
    signed_in,
    text_of,
    visitor,
)
from tests.support import LiveServer, TeamClient


def works(server: LiveServer, key: str) -> bool:
    """Whether the REST API accepts ``key``."""
    return httpx.get(f"{server.base_url}/v1/teams/me", headers={"aicaller-api-key": key}).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(server: LiveServer) -> None:
    anonymous = visitor(server)
    assert_sign_in_redirect(anonymous.get("/dashboard/api-keys"))
    assert_sign_in_redirect(anonymous.get("/dashboard/api-keys/0123456789abcdef01234567/revoke"))


def test_a_new_key_is_shown_once_and_the_list_never_shows_keys(
    server: LiveServer, browser: DashboardVisitor, team: TeamClient
) -> None:
    listing = browser.get("/dashboard/api-keys")
    assert listing.status_code == 200
    assert team.api_key not in listing.text
    assert f"{team.api_key[:10]}…" in listing.text and "(this session)" in listing.text

    created = browser.post("/dashboard/api-keys", {"name": "CRM sync"})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    shown = re.search(r'id="new-key" class="mono" value="(oc_[^"]+)"', created.text)
    assert shown is not None
    new_key = shown.group(1)
    assert "this is the only time it is shown" in text_of(created.text)
    assert works(server, new_key)

    again = browser.get("/dashboard/api-keys")
    assert new_key not in again.text and "CRM sync" in again.text and f"{new_key[:10]}…" in again.text

    other = signed_in(server, TeamClient(team.team_id, new_key, team.http))
    assert "Calls" in other.get("/dashboard/calls").text  # the new key signs in too


def test_revoking_asks_first_then_the_key_stops_working(
    server: LiveServer, browser: DashboardVisitor, team: TeamClient
) -> None:
    made = team.data(team.post("/v1/apiKeys", {"name": "Old laptop"}))
    confirm = browser.get(f"/dashboard/api-keys/{made['_id']}/revoke")
    assert confirm.status_code == 200
    assert "Revoke “Old laptop”" in text_of(confirm.text) and "you will be signed out" not in confirm.text
    assert works(server, made["apiKey"])  # asking changes nothing

    revoked = browser.post(f"/dashboard/api-keys/{made['_id']}/revoke")
    assert revoked.status_code == 303
    page = text_of(browser.get(revoked.headers["location"]).text)
    assert "The key was revoked" in page and "Old laptop" in page and "revoked 2" in page
    assert not works(server, made["apiKey"])
    assert "already revoked" in browser.get(f"/dashboard/api-keys/{made['_id']}/revoke").text


def test_revoking_the_sessions_own_key_signs_out(
    server: LiveServer, browser: DashboardVisitor, team: TeamClient
) -> None:
    keys = team.data(team.get("/v1/apiKeys"))
    mine = next(k for k in keys if team.api_key.startswith(k["prefix"]))
    confirm = browser.get(f"/dashboard/api-keys/{mine['_id']}/revoke")
    assert "This session is signed in with this key: you will be signed out." in text_of(confirm.text)

    answer = browser.post(f"/dashboard/api-keys/{mine['_id']}/revoke")
    assert answer.status_code == 200
    assert "You are signed out." in answer.text and "Sign out" not in answer.text
    assert_sign_in_redirect(browser.get("/dashboard/api-keys"))
    assert not works(server, team.api_key)


def test_a_name_over_the_limit_is_shown_and_no_key_is_made(browser: DashboardVisitor, team: TeamClient) -> None:
    answer = browser.post("/dashboard/api-keys", {"name": "n" * 201})
    assert answer.status_code == 400 and 'id="name-error"' in answer.text
    assert "at most 200 characters" in answer.text and 'id="new-key"' not in answer.text
    assert len(team.data(team.get("/v1/apiKeys"))) == 1


def test_csrf_and_another_teams_key(
    server: LiveServer, browser: DashboardVisitor, team: TeamClient, other_team: TeamClient
) -> None:
    assert_csrf_refused(browser.post("/dashboard/api-keys", {"name": "sneaky"}, csrf=False))
    assert len(team.data(team.get("/v1/apiKeys"))) == 1

    [theirs] = other_team.data(other_team.get("/v1/apiKeys"))
    assert_csrf_refused(browser.post(f"/dashboard/api-keys/{theirs['_id']}/revoke", csrf=False))
    assert browser.get(f"/dashboard/api-keys/{theirs['_id']}/revoke").status_code == 404
    refused = browser.post(f"/dashboard/api-keys/{theirs['_id']}/revoke")
    assert refused.status_code == 404 and "Not found" in refused.text
    assert works(server, other_team.api_key)
    assert theirs["prefix"] not in browser.get("/dashboard/api-keys").text
