"""The lead-list pages over real HTTP: upload with a column mapping, the validation report, progress, cancel and the
results download; and what is refused (signed out, no CSRF token, another team's file, bad files and mappings)."""

from __future__ import annotations

import csv
import io
import re
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

LEADS = (
    "Client;Mobile;Contact person;Town\r\n"
    "Ann;(202) 555-0160;Ann Lee;Springfield\r\n"
    "Bob;not a number;Bob Stone;Shelbyville\r\n"
    "Cid;+1 202 555 0161;Cid Moe;Ogdenville\r\n"
    "Dee;202-555-0160;Dee Day;Brockway\r\n"
)
"""Two good rows, one bad number (row 2) and one duplicate of row 1 (row 4); semicolons, a national format."""


@pytest.fixture
def template(team: TeamClient) -> dict[str, Any]:
    team.add_number()
    return team.add_template(resultColumns=[{"columnName": "interest"}])


def upload(browser: DashboardVisitor, content: bytes, name: str = "leads.csv", **fields: str) -> Any:
    """Submit the upload form as a browser does (multipart, the CSRF token among the fields)."""
    data = {"phoneNumberId": "", "defaultRegion": "", **fields}
    return browser.post("/dashboard/files", data, files={"file": (name, content, "text/csv")})


def test_signed_out_visitors_are_sent_to_sign_in(server: LiveServer) -> None:
    anonymous = visitor(server)
    for path in ("/dashboard/files", "/dashboard/files/new", "/dashboard/files/0123456789abcdef01234567/results.csv"):
        assert_sign_in_redirect(anonymous.get(path))


def test_upload_report_progress_download_and_cancel(
    browser: DashboardVisitor, team: TeamClient, template: dict[str, Any]
) -> None:
    form = browser.get(f"/dashboard/files/new?callTemplateId={template['_id']}")
    assert form.status_code == 200
    assert 'name="var-customer_name"' in form.text and "Column for customer_name (required)" in form.text

    answer = upload(
        browser,
        LEADS.encode(),
        callTemplateId=template["_id"],
        defaultRegion="us",
        phoneColumn="Mobile",
        nameColumn="Contact person",
        **{"var-customer_name": "Client"},
    )
    assert answer.status_code == 303, answer.text
    file_id = answer.headers["location"].split("/dashboard/files/")[1].split("?")[0]

    page = browser.get(answer.headers["location"])
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Imported: 2 of 4 rows queued as calls, 2 rejected" in shown
    assert re.search(r"Row Reason.* 2 Mobile: ", shown), shown
    assert "4 +12025550160 is a duplicate of row 1" in shown
    assert "customer_name ← Client" in shown
    assert "0 of 2 calls finished, 2 to go" in shown
    assert 'hx-get="/dashboard/files/' + file_id + '/progress"' in page.text  # refreshes while calls are pending
    assert '<meta http-equiv="refresh"' in page.text  # and without JavaScript too

    stored = team.data(team.get(f"/v1/files/{file_id}"))
    assert (stored["acceptedCount"], stored["rejectedCount"], stored["defaultRegion"]) == (2, 2, "US")
    assert [r["row"] for r in stored["rejectedRows"]] == [2, 4]
    calls = team.data(team.get("/v1/phoneCalls", params={"fileId": file_id}))
    assert sorted((c["nameOfHuman"], c["promptVariableValues"][0]["value"]) for c in calls) == [
        ("Ann Lee", "Ann"),
        ("Cid Moe", "Cid"),
    ]

    listing = text_of(browser.get("/dashboard/files").text)
    assert "leads.csv" in listing and "2 accepted, 2 rejected" in listing and "0 of 2 finished" in listing

    partial = browser.get(f"/dashboard/files/{file_id}/progress")
    assert partial.status_code == 200 and "<html" not in partial.text and "0 of 2 calls finished" in partial.text

    download = browser.get(f"/dashboard/files/{file_id}/results.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert 'filename="leads-results.csv"' in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text, newline=""), delimiter=";"))
    assert rows[0][:6] == ["Client", "Mobile", "Contact person", "Town", "status", "statusCode"]
    assert "interest" in rows[0]
    assert sorted(row[:5] for row in rows[1:]) == [
        ["Ann", "(202) 555-0160", "Ann Lee", "Springfield", "queued"],
        ["Cid", "+1 202 555 0161", "Cid Moe", "Ogdenville", "queued"],
    ]

    cancelled = browser.post(f"/dashboard/files/{file_id}/cancel")
    assert cancelled.status_code == 303
    after = text_of(browser.get(cancelled.headers["location"]).text)
    assert "The calls that were still queued are cancelled" in after
    assert "2 of 2 calls finished" in after and "CANCELLED_BY_USER 2" in after
    assert team.data(team.get(f"/v1/files/{file_id}"))["progress"]["byStatus"]["cancelled"] == 2


def test_columns_are_guessed_when_the_mapping_is_left_empty(
    browser: DashboardVisitor, team: TeamClient, template: dict[str, Any]
) -> None:
    content = b"name,phone,customer_name\nAnn,+12025550170,Ann\n"
    answer = upload(browser, content, callTemplateId=template["_id"], phoneColumn="", nameColumn="")
    assert answer.status_code == 303, answer.text
    files = team.data(team.get("/v1/files"))
    assert [(f["columnMap"]["phone"], f["columnMap"]["name"], f["acceptedCount"]) for f in files] == [
        ("phone", "name", 1)
    ]


def test_a_mapping_that_does_not_fit_comes_back_with_the_files_columns(
    browser: DashboardVisitor, team: TeamClient, template: dict[str, Any]
) -> None:
    answer = upload(browser, b"who,digits\nAnn,+12025550171\n", callTemplateId=template["_id"], nameColumn="Name")
    assert answer.status_code == 400
    shown = text_of(answer.text)
    assert "Nothing was imported" in shown
    assert "Name column: the file has no column 'Name'" in shown  # the summary names the fields as the form does
    assert "no phone-number column found" in shown
    assert '<datalist id="file-columns"><option value="who"><option value="digits"></datalist>' in answer.text
    assert 'id="nameColumn" name="nameColumn" value="Name"' in answer.text  # the form keeps what was typed
    assert team.data(team.get("/v1/files")) == []
    assert team.data(team.get("/v1/phoneCalls")) == []


@pytest.mark.parametrize(
    ("content", "fields", "field", "message"),
    [
        (b"", {}, "file", "choose a CSV file to upload"),
        (b"PK\x03\x04 not really a workbook", {}, "file", "the file is a ZIP archive"),
        (b"phone\n+12025550172\n", {"defaultRegion": "ZZ"}, "defaultRegion", "two-letter country code"),
        (b"phone\n+12025550172\n", {"var-customer_name": "Nope"}, "var-customer_name", "no column 'Nope'"),
        (b"phone\n+12025550172\n", {"phoneNumberId": "0123456789abcdef01234567"}, "phoneNumberId", "one of your"),
        (b"phone\n+12025550172\n", {"callTemplateId": "0123456789abcdef01234567"}, "callTemplateId", "one of your"),
    ],
)
def test_bad_uploads_show_the_problem_and_store_nothing(
    browser: DashboardVisitor,
    team: TeamClient,
    template: dict[str, Any],
    content: bytes,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    name = "leads.csv" if content else ""  # a form sent without choosing a file
    answer = upload(browser, content, name, **{"callTemplateId": template["_id"], **fields})
    assert answer.status_code == 400, answer.text
    assert f'id="{field}-error"' in answer.text
    assert message in text_of(answer.text)
    assert team.data(team.get("/v1/files")) == []
    assert team.data(team.get("/v1/phoneCalls")) == []


def test_a_post_without_the_csrf_token_is_refused(
    browser: DashboardVisitor, team: TeamClient, template: dict[str, Any]
) -> None:
    content = b"phone,customer_name\n+12025550173,Ann\n"
    data = {"callTemplateId": template["_id"]}
    refused = browser.http.post("/dashboard/files", data=data, files={"file": ("leads.csv", content, "text/csv")})
    assert_csrf_refused(refused)
    assert team.data(team.get("/v1/files")) == []

    made = team.data(team.http.post("/v1/files", data=data, files={"file": ("leads.csv", content, "text/csv")}))
    assert_csrf_refused(browser.post(f"/dashboard/files/{made['_id']}/cancel", csrf=False))
    assert team.data(team.get(f"/v1/files/{made['_id']}"))["progress"]["byStatus"]["queued"] == 1


def test_another_teams_file_is_not_found(browser: DashboardVisitor, other_team: TeamClient, server: LiveServer) -> None:
    other_team.add_number()
    theirs = other_team.add_template()
    content = b"phone,customer_name\n+12025550174,Eve\n"
    made = other_team.data(
        other_team.http.post(
            "/v1/files", data={"callTemplateId": theirs["_id"]}, files={"file": ("theirs.csv", content, "text/csv")}
        )
    )
    for path in (f"/dashboard/files/{made['_id']}", f"/dashboard/files/{made['_id']}/results.csv"):
        response = browser.get(path)
        assert response.status_code == 404 and "Not found" in response.text and "theirs.csv" not in response.text
    refused = browser.post(f"/dashboard/files/{made['_id']}/cancel")
    assert refused.status_code == 404
    assert other_team.data(other_team.get(f"/v1/files/{made['_id']}"))["progress"]["byStatus"]["queued"] == 1
    assert browser.get("/dashboard/files/not-an-id").status_code == 404


def test_an_upload_over_the_limit_is_refused_with_a_page(
    browser: DashboardVisitor, team: TeamClient, template: dict[str, Any], server: LiveServer
) -> None:
    limit = server.settings.max_upload_bytes
    content = b"name,phone,customer_name\n" + b"x" * limit
    answer = browser.http.post(
        "/dashboard/files",
        data={"csrf_token": browser.token(), "callTemplateId": template["_id"]},
        files={"file": ("huge.csv", content, "text/csv")},
        headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "larger than" in answer.text
    assert team.data(team.get("/v1/files")) == []
