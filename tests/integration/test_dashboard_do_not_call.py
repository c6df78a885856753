"""The do-not-call page over real HTTP: the paginated list, look-up, adding with a reason, removing; and what is
refused."""

from __future__ import annotations

import re
from typing import Any

from opencaller.store.models import DoNotCallEntry
from tests.integration.dashboard_client import (
    DashboardVisitor,
    assert_csrf_refused,
    assert_sign_in_redirect,
    text_of,
    visitor,
)
from tests.support import LiveServer, TeamClient


def entries(team: TeamClient) -> list[dict[str, Any]]:
    return team.data(team.get("/v1/doNotCall", params={"limit": 1000}))  # type: ignore[no-any-return]


def test_signed_out_visitors_are_sent_to_sign_in(server: LiveServer) -> None:
    assert_sign_in_redirect(visitor(server).get("/dashboard/do-not-call"))


def test_add_look_up_and_remove(browser: DashboardVisitor, team: TeamClient) -> None:
    assert "The list is empty." in browser.get("/dashboard/do-not-call").text

    added = browser.post("/dashboard/do-not-call", {"number": "(202) 555-0140", "reason": ""})
    assert added.status_code == 400  # no country code: the engine's rule, shown on the form
    assert 'id="number-error"' in added.text and entries(team) == []

    added = browser.post("/dashboard/do-not-call", {"number": "+1 202 555 0140", "reason": "asked on the phone"})
    assert added.status_code == 303
    page = text_of(browser.get(added.headers["location"]).text)
    assert "+12025550140 is on the do-not-call list." in page
    assert "+12025550140 asked on the phone dashboard" in page
    [entry] = entries(team)
    assert (entry["number"], entry["reason"], entry["source"]) == ("+12025550140", "asked on the phone", "dashboard")

    again = browser.post("/dashboard/do-not-call", {"number": "+12025550140", "reason": "twice"})
    assert again.status_code == 303 and len(entries(team)) == 1  # already there: the first entry stays

    found = text_of(browser.get("/dashboard/do-not-call", params={"number": "+1 202-555-0140"}).text)
    assert re.search(r"\+12025550140 is on the list since [0-9-]+ [0-9:]+ UTC \(asked on the phone\)\.", found)
    missing = text_of(browser.get("/dashboard/do-not-call", params={"number": "+12025550141"}).text)
    assert "+12025550141 is not on the list." in missing
    bad = browser.get("/dashboard/do-not-call", params={"number": "nonsense"})
    assert bad.status_code == 400 and 'id="lookup-error"' in bad.text

    removed = browser.post(f"/dashboard/do-not-call/{entry['_id']}/remove")
    assert removed.status_code == 303
    assert "taken off the list" in browser.get(removed.headers["location"]).text
    assert entries(team) == []


def test_a_reason_over_the_limit_is_shown_and_nothing_is_stored(browser: DashboardVisitor, team: TeamClient) -> None:
    answer = browser.post("/dashboard/do-not-call", {"number": "+12025550142", "reason": "x" * 501})
    assert answer.status_code == 400
    assert "at most 500 characters" in text_of(answer.text) and 'value="+12025550142"' in answer.text
    assert entries(team) == []


def test_the_list_is_paginated(server: LiveServer, browser: DashboardVisitor, team: TeamClient) -> None:
    server.add_rows(*(DoNotCallEntry(team_id=team.team_id, number=f"+1202555{1000 + i}") for i in range(60)))
    first = browser.get("/dashboard/do-not-call")
    shown = re.findall(r'<td data-label="Number" class="mono">(\+\d+)</td>', first.text)
    assert len(shown) == 50 and shown[0] == "+12025551059"  # newest first
    older = re.search(r'href="(/dashboard/do-not-call\?cursor=[0-9a-f]+)" rel="next"', first.text)
    assert older is not None
    second = browser.get(older.group(1))
    rest = re.findall(r'<td data-label="Number" class="mono">(\+\d+)</td>', second.text)
    assert len(rest) == 10 and set(rest).isdisjoint(shown)
    assert 'rel="next"' not in second.text and "Newest entries" in second.text
    assert browser.get("/dashboard/do-not-call?cursor=junk").status_code == 200  # a bad cursor starts over


def test_csrf_and_another_teams_entry(browser: DashboardVisitor, team: TeamClient, other_team: TeamClient) -> None:
    assert_csrf_refused(browser.post("/dashboard/do-not-call", {"number": "+12025550143"}, csrf=False))
    assert entries(team) == []

    theirs = other_team.data(other_team.post("/v1/doNotCall", {"number": "+12025550144"}))
    assert_csrf_refused(browser.post(f"/dashboard/do-not-call/{theirs['_id']}/remove", csrf=False))
    refused = browser.post(f"/dashboard/do-not-call/{theirs['_id']}/remove")
    assert refused.status_code == 404 and "Not found" in refused.text
    assert [e["number"] for e in entries(other_team)] == ["+12025550144"]
    assert "+12025550144" not in browser.get("/dashboard/do-not-call").text
