"""The phone-numbers pages over real HTTP: list, add, edit and delete; and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.dashboard_client import (
    DashboardVisitor,
    assert_csrf_refused,
    assert_sign_in_redirect,
    text_of,
    visitor,
)
from tests.support import LiveServer, TeamClient

BLANK = {"number": "", "telephonyProvider": "twilio", "label": "", "callsPerSecond": "", "concurrencyLimit": ""}


def numbers(team: TeamClient) -> list[dict[str, Any]]:
    return team.data(team.get("/v1/phoneNumbers"))  # type: ignore[no-any-return]


def test_signed_out_visitors_are_sent_to_sign_in(server: LiveServer) -> None:
    anonymous = visitor(server)
    for path in ("/dashboard/phone-numbers", "/dashboard/phone-numbers/0123456789abcdef01234567"):
        assert_sign_in_redirect(anonymous.get(path))


def test_add_edit_and_delete_a_number(browser: DashboardVisitor, team: TeamClient) -> None:
    empty = browser.get("/dashboard/phone-numbers")
    assert empty.status_code == 200 and "No phone numbers yet" in empty.text

    added = browser.post(
        "/dashboard/phone-numbers",
        {**BLANK, "number": "+1 (202) 555-0123", "label": "Sales line", "callsPerSecond": "0.5"},
    )
    assert added.status_code == 303
    page = text_of(browser.get(added.headers["location"]).text)
    assert "The number was added." in page
    assert "+12025550123 default Sales line Twilio 0.5 no limit" in page
    [stored] = numbers(team)
    assert (stored["number"], stored["label"], stored["callsPerSecond"], stored["isDefault"]) == (
        "+12025550123",
        "Sales line",
        0.5,
        True,
    )

    second = browser.post("/dashboard/phone-numbers", {**BLANK, "number": "+12025550124", "isDefault": "on"})
    assert second.status_code == 303
    by_number = {n["number"]: n for n in numbers(team)}
    assert by_number["+12025550124"]["isDefault"] and not by_number["+12025550123"]["isDefault"]

    edit = browser.get(f"/dashboard/phone-numbers/{stored['_id']}")
    assert edit.status_code == 200 and 'value="Sales line"' in edit.text and 'value="0.5"' in edit.text
    saved = browser.post(
        f"/dashboard/phone-numbers/{stored['_id']}",
        {"telephonyProvider": "telnyx", "label": "", "callsPerSecond": "", "concurrencyLimit": "3", "isDefault": "on"},
    )
    assert saved.status_code == 303
    assert "Saved." in browser.get(saved.headers["location"]).text
    after = {n["number"]: n for n in numbers(team)}["+12025550123"]
    assert (after["telephonyProvider"], after["label"], after["callsPerSecond"], after["concurrencyLimit"]) == (
        "telnyx",
        None,
        None,
        3,
    )
    assert after["isDefault"]

    confirm = browser.get(f"/dashboard/phone-numbers/{stored['_id']}/delete")
    assert confirm.status_code == 200 and "Delete +12025550123?" in text_of(confirm.text)
    assert "It is the team's default number" in text_of(confirm.text)
    assert len(numbers(team)) == 2  # asking changes nothing
    deleted = browser.post(f"/dashboard/phone-numbers/{stored['_id']}/delete")
    assert deleted.status_code == 303
    assert "The number was deleted." in browser.get(deleted.headers["location"]).text
    assert [n["number"] for n in numbers(team)] == ["+12025550124"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"number": "12345"}, "number", ""),
        ({"number": ""}, "number", "enter the number"),
        ({"number": "+12025550125", "callsPerSecond": "0"}, "callsPerSecond", "greater than 0"),
        ({"number": "+12025550125", "callsPerSecond": "fast"}, "callsPerSecond", "valid number"),
        ({"number": "+12025550125", "concurrencyLimit": "1.5"}, "concurrencyLimit", "valid integer"),
        ({"number": "+12025550125", "concurrencyLimit": "20000"}, "concurrencyLimit", "less than or equal to 10000"),
        ({"number": "+12025550125", "telephonyProvider": "carrier-pigeon"}, "telephonyProvider", "must be one of"),
        ({"number": "+12025550125", "label": "x" * 201}, "label", "at most 200 characters"),
    ],
)
def test_bad_input_is_shown_and_nothing_is_stored(
    browser: DashboardVisitor, team: TeamClient, fields: dict[str, str], field: str, message: str
) -> None:
    answer = browser.post("/dashboard/phone-numbers", {**BLANK, **fields})
    assert answer.status_code == 400, answer.text
    assert f'id="{field}-error"' in answer.text and message in text_of(answer.text)
    assert f'value="{fields["number"]}"' in answer.text  # the form keeps what was typed
    assert numbers(team) == []


def test_a_number_the_team_has_is_a_conflict_shown_on_the_form(browser: DashboardVisitor, team: TeamClient) -> None:
    team.add_number("+12025550126")
    answer = browser.post("/dashboard/phone-numbers", {**BLANK, "number": "+1 202 555 0126"})
    assert answer.status_code == 409
    assert "the team already has the number +12025550126" in text_of(answer.text)
    assert len(numbers(team)) == 1


def test_bad_edits_are_shown_and_nothing_changes(browser: DashboardVisitor, team: TeamClient) -> None:
    number = team.add_number("+12025550127", label="Kept", callsPerSecond=2)
    answer = browser.post(
        f"/dashboard/phone-numbers/{number['_id']}",
        {"telephonyProvider": "twilio", "label": "Changed", "callsPerSecond": "-1", "concurrencyLimit": ""},
    )
    assert answer.status_code == 400 and 'id="callsPerSecond-error"' in answer.text
    assert 'value="Changed"' in answer.text
    [after] = numbers(team)
    assert (after["label"], after["callsPerSecond"]) == ("Kept", 2)


def test_a_number_queued_calls_wait_for_cannot_be_deleted(browser: DashboardVisitor, team: TeamClient) -> None:
    number = team.add_number("+12025550128")
    template = team.add_template()
    team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], phoneNumberId=number["_id"])))
    answer = browser.post(f"/dashboard/phone-numbers/{number['_id']}/delete")
    assert answer.status_code == 409
    assert "queued calls will use this number" in text_of(answer.text)
    assert len(numbers(team)) == 1


def test_csrf_and_another_teams_number(browser: DashboardVisitor, team: TeamClient, other_team: TeamClient) -> None:
    assert_csrf_refused(browser.post("/dashboard/phone-numbers", {**BLANK, "number": "+12025550129"}, csrf=False))
    assert numbers(team) == []
    mine = team.add_number("+12025550130")
    assert_csrf_refused(browser.post(f"/dashboard/phone-numbers/{mine['_id']}/delete", csrf=False))
    edit = {**BLANK, "label": "Hijacked"}
    assert_csrf_refused(browser.post(f"/dashboard/phone-numbers/{mine['_id']}", edit, csrf=False))
    assert [n["label"] for n in numbers(team)] == [None]

    theirs = other_team.add_number("+12025550131", label="Theirs")
    for path in (f"/dashboard/phone-numbers/{theirs['_id']}", f"/dashboard/phone-numbers/{theirs['_id']}/delete"):
        page = browser.get(path)
        assert page.status_code == 404 and "Not found" in page.text and "+12025550131" not in page.text
    assert browser.post(f"/dashboard/phone-numbers/{theirs['_id']}", edit).status_code == 404
    assert browser.post(f"/dashboard/phone-numbers/{theirs['_id']}/delete").status_code == 404
    [kept] = numbers(other_team)
    assert kept["label"] == "Theirs"
