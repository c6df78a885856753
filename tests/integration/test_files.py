"""Lead lists through the API: real CSV files in (quoting, BOM, semicolons, tabs, messy rows, bad files), the
report and the calls they make, progress, cancel, and the results spreadsheet out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import TeamClient

FIXTURES = Path(__file__).parent.parent / "fixtures"


def upload(team: TeamClient, path: Path | str, content: bytes | None = None, **form: str) -> httpx.Response:
    """POST /v1/files with a fixture (or ``content`` under that name) and the form fields."""
    name = path.name if isinstance(path, Path) else path
    body = content if content is not None else Path(path).read_bytes()
    return team.http.post("/v1/files", files={"file": (name, body, "text/csv")}, data=form)


def read_csv(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def file_calls(team: TeamClient, file_id: str) -> list[dict[str, Any]]:
    calls = team.data(team.get("/v1/phoneCalls", params={"fileId": file_id, "limit": 1000}))
    return sorted(calls, key=lambda c: c["_id"])


@pytest.fixture
def template(team: TeamClient) -> dict[str, Any]:
    team.add_number()
    return team.add_template(resultColumns=[{"columnName": "interest"}, {"columnName": "city"}])


def test_quoted_fields_become_calls_and_come_back_unchanged(team: TeamClient, template: dict[str, Any]) -> None:
    fixture = FIXTURES / "leads_quoted.csv"
    report = team.data(upload(team, fixture, callTemplateId=template["_id"], defaultRegion="US"))

    assert report["fileName"] == "leads_quoted.csv"
    assert (report["rowCount"], report["acceptedCount"], report["rejectedRows"]) == (3, 3, [])
    assert report["columns"] == ["Name", "Phone", "Email", "customer_name", "Notes"]
    assert report["columnMap"] == {
        "phone": "Phone",
        "name": "Name",
        "email": "Email",
        "variables": {"customer_name": "customer_name", "Notes": "Notes"},
    }
    assert report["progress"]["byStatus"]["queued"] == 3
    calls = file_calls(team, report["_id"])
    assert [c["nameOfHuman"] for c in calls] == ["Smith, John", "Ann Lee", 'Bob "the builder"']
    assert [c["toPhoneNumber"] for c in calls] == ["+12025550150", "+12025550151", "+12025550152"]
    assert calls[0]["toEmailAddress"] == "john@example.com" and calls[1]["toEmailAddress"] is None
    assert {(c["fileId"], c["fileName"], c["callOrigin"]) for c in calls} == {
        (report["_id"], "leads_quoted.csv", "file")
    }
    assert calls[0]["promptVariableValues"] == [
        {"key": "customer_name", "value": "John"},
        {"key": "Notes", "value": 'He said "call me" after 5'},
    ]
    assert calls[1]["promptVariableValues"][1] == {"key": "Notes", "value": "two\r\nlines"}

    results = team.http.get(f"/v1/files/{report['_id']}/results.csv")
    assert results.status_code == 200
    assert results.headers["content-type"].startswith("text/csv")
    assert 'filename="leads_quoted-results.csv"' in results.headers["content-disposition"]
    table = read_csv(results.text)
    original = read_csv(fixture.read_bytes().decode("utf-8"))
    assert table[0] == [
        *original[0],
        *("status", "statusCode", "attempts", "callStartedAt", "callEndedAt", "callDuration"),
        *("interest", "city", "tags", "fixedMeetingTime", "recordingUrl"),
    ]
    assert [line[:5] for line in table[1:]] == original[1:]
    assert [line[5:] for line in table[1:]] == [["queued", "", "0", "", "", "", "", "", "", "", ""]] * 3


def test_bom_and_semicolons_with_mapped_columns(team: TeamClient, template: dict[str, Any]) -> None:
    report = team.data(
        upload(
            team,
            FIXTURES / "leads_bom_semicolon.csv",
            callTemplateId=template["_id"],
            nameColumn="nom",
            variableColumns=json.dumps({"city": "Ville"}),
        )
    )

    assert report["delimiter"] == ";"
    assert report["columns"] == ["Nom", "Mobile", "customer_name", "Ville"]  # no BOM in the first name
    assert report["columnMap"]["phone"] == "Mobile" and report["columnMap"]["name"] == "Nom"
    assert report["columnMap"]["variables"] == {"city": "Ville", "customer_name": "customer_name"}
    assert report["acceptedCount"] == 2
    calls = file_calls(team, report["_id"])
    assert [c["nameOfHuman"] for c in calls] == ["José García", "Dupont; Marie"]
    assert [c["toPhoneNumber"] for c in calls] == ["+33142685300", "+33123456789"]
    assert calls[0]["promptVariableValues"] == [
        {"key": "city", "value": "Paris"},
        {"key": "customer_name", "value": "José"},
    ]
    table = read_csv(team.http.get(f"/v1/files/{report['_id']}/results.csv").text, ";")
    assert table[1][:4] == ["José García", "+33 1 42 68 53 00", "José", "Paris"]
    assert table[2][:4] == ["Dupont; Marie", "+33 1 23 45 67 89", "Marie", "Lyon"]


def test_tab_separated(team: TeamClient, template: dict[str, Any]) -> None:
    report = team.data(upload(team, FIXTURES / "leads_tab.csv", callTemplateId=template["_id"]))

    assert report["delimiter"] == "\t"
    assert report["acceptedCount"] == 1
    assert file_calls(team, report["_id"])[0]["nameOfHuman"] == "Tab Person"


def test_messy_rows_are_reported_one_by_one(team: TeamClient, template: dict[str, Any]) -> None:
    report = team.data(upload(team, FIXTURES / "leads_messy.csv", callTemplateId=template["_id"]))

    assert (report["rowCount"], report["acceptedCount"], report["rejectedCount"]) == (9, 3, 6)
    reasons = {r["row"]: r["reason"] for r in report["rejectedRows"]}
    assert sorted(reasons) == [2, 3, 6, 7, 8, 9]  # row 5 is blank and skipped; the header is not a row
    assert reasons[2] == "variables: missing required variables: customer_name"
    assert reasons[3].startswith("the row has 6 values but the header has 4 columns")
    assert "'12345'" in reasons[6] and "defaultRegion" in reasons[6]
    assert reasons[7].startswith("phone: 'call me' is not a phone number")
    assert reasons[8] == "phone: the phone number is empty"
    assert reasons[9] == "+12025550170 is a duplicate of row 1"
    assert report["rejectedRowsTruncated"] is False
    calls = file_calls(team, report["_id"])
    assert [c["nameOfHuman"] for c in calls] == ["Good One", "Trailing Empty", "Short City"]
    assert calls[2]["promptVariableValues"] == [{"key": "customer_name", "value": "Short"}]
    table = read_csv(team.http.get(f"/v1/files/{report['_id']}/results.csv").text)
    assert [line[:4] for line in table[1:]] == [
        ["Good One", "+12025550170", "Good", "Boston"],
        ["Trailing Empty", "+12025550173", "Trail", "Austin"],
        ["Short City", "+12025550174", "Short", ""],
    ]


def test_numbers_already_queued_or_on_the_do_not_call_list_are_rejected(
    team: TeamClient, template: dict[str, Any]
) -> None:
    queued = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], toPhoneNumber="+12025550170")))
    other_template = team.add_template(name="Other")
    team.data(team.post("/v1/phoneCalls", team.call_body(other_template["_id"], toPhoneNumber="+12025550173")))
    team.data(team.post("/v1/doNotCall", {"number": "+12025550174"}))
    content = (
        b"name,phone,customer_name\n"
        b"Queued,+12025550170,A\n"
        b"Other template,+12025550173,B\n"
        b"Blocked,+12025550174,C\n"
        b"Blocked again,+1 202 555 0174,D\n"
        b"Fine,+12025550175,E\n"
        b"Fine twice,+12025550175,F\n"
    )

    report = team.data(upload(team, "dups.csv", content, callTemplateId=template["_id"]))

    assert report["rejectedRows"] == [
        {"row": 1, "reason": f"+12025550170 is already queued for this template (call {queued['_id']})"},
        {"row": 3, "reason": "+12025550174 is on the do-not-call list"},
        {"row": 4, "reason": "+12025550174 is on the do-not-call list"},
        {"row": 6, "reason": "+12025550175 is a duplicate of row 5"},
    ]
    assert [c["nameOfHuman"] for c in file_calls(team, report["_id"])] == ["Other template", "Fine"]


BAD_FILES = [
    ("leads_latin1.csv", None, "not UTF-8"),
    ("empty.csv", None, "empty"),
    ("header_only.csv", None, "no rows of data"),
    ("leads.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG image"),
    ("leads.xlsx", b"PK\x03\x04" + b"\x00" * 100, "ZIP archive"),
    ("utf16.csv", "name,phone\nA,+12025550100\n".encode("utf-16"), "UTF-16"),
    ("late-bad-byte.csv", b"name,phone,customer_name\n" + b"A,+12025550100,A\n" * 3000 + b"B,+1202555\xff,B\n", "line"),
    ("no-phone.csv", b"name,city\nA,Paris\n", "no phone-number column"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_files_that_are_not_lead_lists_create_nothing(
    team: TeamClient, template: dict[str, Any], name: str, content: bytes | None, message: str
) -> None:
    response = upload(team, FIXTURES / name if content is None else name, content, callTemplateId=template["_id"])

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and message in error["message"] + json.dumps(error["details"])
    assert team.data(team.get("/v1/files")) == []
    assert team.data(team.get("/v1/phoneCalls")) == []


def test_bad_requests_name_the_field(team: TeamClient, template: dict[str, Any]) -> None:
    fixture = FIXTURES / "leads_quoted.csv"
    cases = [
        ({}, 400, "callTemplateId"),
        ({"callTemplateId": "0" * 24}, 404, None),
        ({"callTemplateId": template["_id"], "phoneNumberId": "0" * 24}, 404, None),
        ({"callTemplateId": template["_id"], "phoneColumn": "Mobile"}, 400, "phoneColumn"),
        ({"callTemplateId": template["_id"], "variableColumns": "[1]"}, 400, "variableColumns"),
        ({"callTemplateId": template["_id"], "variableColumns": '{"x": "Nope"}'}, 400, "variableColumns.x"),
        ({"callTemplateId": template["_id"], "defaultRegion": "XX"}, 400, "defaultRegion"),
        ({"callTemplateId": template["_id"], "callDelayedUntil": "tomorrow"}, 400, "callDelayedUntil"),
    ]
    for form, status, field in cases:
        response = upload(team, fixture, **form)
        assert response.status_code == status, (form, response.text)
        if field is not None:
            assert field in [d["field"] for d in response.json()["error"]["details"]], response.text
    no_file = team.http.post("/v1/files", data={"callTemplateId": template["_id"]})
    assert no_file.status_code == 400 and no_file.json()["error"]["details"][0]["field"] == "file"
    assert team.data(team.get("/v1/files")) == []
    assert team.data(team.get("/v1/phoneCalls")) == []


def test_upload_over_the_limit_is_refused(team: TeamClient, template: dict[str, Any]) -> None:
    limit = 50 * 1024 * 1024
    content = b"name,phone,customer_name\n" + b"x" * limit
    response = upload(team, "huge.csv", content, callTemplateId=template["_id"])

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert team.data(team.get("/v1/files")) == []


def test_delayed_calls_from_a_chosen_number(team: TeamClient, template: dict[str, Any]) -> None:
    second = team.add_number("+12025550198")
    report = team.data(
        upload(
            team,
            FIXTURES / "leads_tab.csv",
            callTemplateId=template["_id"],
            phoneNumberId=second["_id"],
            callDelayedUntil="2999-01-01T09:00:00+02:00",
        )
    )

    assert report["phoneNumberId"] == second["_id"]
    assert report["callDelayedUntil"] == "2999-01-01T07:00:00.000Z"
    call = file_calls(team, report["_id"])[0]
    assert call["fromPhoneNumber"] == "+12025550198"
    assert call["callDelayedUntil"] == "2999-01-01T07:00:00.000Z"


def test_list_get_and_cancel(team: TeamClient, template: dict[str, Any]) -> None:
    first = team.data(upload(team, FIXTURES / "leads_tab.csv", callTemplateId=template["_id"]))
    second = team.data(upload(team, FIXTURES / "leads_quoted.csv", callTemplateId=template["_id"], defaultRegion="US"))
    extra = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], toPhoneNumber="+12025550190")))

    page = team.get("/v1/files", params={"limit": 1}).json()
    assert [f["_id"] for f in page["data"]] == [second["_id"]]
    assert "progress" not in page["data"][0]
    rest = team.data(team.get("/v1/files", params={"limit": 1, "cursor": page["pagination"]["nextCursor"]}))
    assert [f["_id"] for f in rest] == [first["_id"]]
    assert team.data(team.get("/v1/files", params={"callTemplateId": template["_id"]}))[0]["_id"] == second["_id"]

    cancelled = team.data(team.post(f"/v1/files/{second['_id']}/cancel"))

    assert cancelled["cancelledAt"] is not None
    assert cancelled["progress"] == {
        "total": 3,
        "finished": 3,
        "pending": 0,
        "byStatus": {
            "queued": 0, "ringing": 0, "inProgress": 0, "busy": 0, "failed": 0, "noAnswer": 0, "cancelled": 3,
            "completed": 0,
        },
        "byStatusCode": {"CANCELLED_BY_USER": 3},
    }  # fmt: skip
    assert {c["status"] for c in file_calls(team, second["_id"])} == {"cancelled"}
    assert team.data(team.get(f"/v1/files/{first['_id']}"))["progress"]["byStatus"]["queued"] == 1
    assert team.data(team.get(f"/v1/phoneCalls/{extra['_id']}"))["status"] == "queued"
    again = team.data(team.post(f"/v1/files/{second['_id']}/cancel"))
    assert again["cancelledAt"] == cancelled["cancelledAt"]
    assert team.get(f"/v1/files/{'0' * 24}").status_code == 404
    assert team.get("/v1/files/not-an-id/results.csv").status_code == 404


def test_phone_calls_export_follows_the_list_filters(team: TeamClient, template: dict[str, Any]) -> None:
    report = team.data(upload(team, FIXTURES / "leads_quoted.csv", callTemplateId=template["_id"], defaultRegion="US"))
    single = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"], toPhoneNumber="+12025550190")))
    team.data(team.post(f"/v1/phoneCalls/{single['_id']}/cancel"))

    everything = read_csv(team.http.get("/v1/phoneCalls/export.csv").text)
    from_file = read_csv(team.http.get("/v1/phoneCalls/export.csv", params={"fileId": report["_id"]}).text)
    cancelled = read_csv(team.http.get("/v1/phoneCalls/export.csv", params={"status": "canceled"}).text)

    header = everything[0]
    assert header[:3] == ["_id", "createdAt", "callTemplateId"] and "statusCode" in header
    assert len(everything) == 5 and len(from_file) == 4
    column = {name: index for index, name in enumerate(header)}
    assert [line[column["nameOfHuman"]] for line in from_file[1:]] == ["Smith, John", "Ann Lee", 'Bob "the builder"']
    assert {line[column["callOrigin"]] for line in from_file[1:]} == {"file"}
    assert [(line[column["_id"]], line[column["statusCode"]]) for line in cancelled[1:]] == [
        (single["_id"], "CANCELLED_BY_USER")
    ]
    assert json.loads(from_file[1][column["promptVariableValues"]])[0] == {"key": "customer_name", "value": "John"}
    bad = team.http.get("/v1/phoneCalls/export.csv", params={"status": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "status"


def test_a_hundred_thousand_rows(team: TeamClient, template: dict[str, Any], tmp_path: Path) -> None:
    rows = 100_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Name,Phone,customer_name,City\r\n")
        for i in range(rows):
            area = (202, 212, 213, 305, 312, 404, 415, 503, 617, 718)[i % 10]
            line = (i // 10) % 10_000
            out.write(f'"Lead {i}, Jr.",({area}) 2{i // 100_000:02d}-{line:04d},Lead {i},Springfield\r\n')
        out.write("Late duplicate,(202) 200-0000,Dup,Springfield\r\n")

    with path.open("rb") as handle:
        response = team.http.post(
            "/v1/files",
            files={"file": ("big.csv", handle, "text/csv")},
            data={"callTemplateId": template["_id"], "defaultRegion": "US"},
        )

    report = team.data(response)
    assert (report["rowCount"], report["acceptedCount"]) == (rows + 1, rows)
    assert report["rejectedRows"] == [{"row": rows + 1, "reason": "+12022000000 is a duplicate of row 1"}]
    detail = team.data(team.get(f"/v1/files/{report['_id']}"))
    assert detail["progress"]["byStatus"]["queued"] == rows
    last = team.data(team.get("/v1/phoneCalls", params={"fileId": report["_id"], "limit": 1}))[0]
    assert last["nameOfHuman"] == f"Lead {rows - 1}, Jr." and last["toPhoneNumber"] == "+17182009999"
