"""A lead list through the phone network: a 10-row CSV is dialled by the dispatcher against the simulator's
callees, and the results spreadsheet tells what happened to every row."""

from __future__ import annotations

import csv
import io
import json

from tests.e2e.conftest import wait_until
from tests.support import TeamClient

# number -> (status, statusCode) the simulator's built-in callee gives it; how an answered call ends
# (ENDED_NORMALLY or HUNG_UP_BY_HUMAN) is only fixed for the callee that hangs up at once
EXPECTED = {
    "+12025550100": ("completed", "ENDED_NORMALLY"),  # cooperative person
    "+12025550101": ("busy", ""),
    "+12025550102": ("noAnswer", ""),
    "+12025550105": ("failed", ""),  # unroutable
    "+12025550108": ("completed", "HUNG_UP_BY_HUMAN"),
    "+12025550140": ("completed", "ENDED_NORMALLY"),  # numbers not listed reach the default cooperative person
    "+12025550141": ("completed", "ENDED_NORMALLY"),
    "+12025550142": ("completed", "ENDED_NORMALLY"),
    "+12025550143": ("completed", "ENDED_NORMALLY"),
    "+12025550144": ("completed", "ENDED_NORMALLY"),
}


def test_a_lead_list_is_called_and_its_results_come_back(caller: TeamClient) -> None:
    template = caller.add_template(
        firstMessage="Hello {{customer_name}}, this is a short test call. Goodbye.",
        resultColumns=[{"columnName": "interest"}, {"columnName": "city"}],
    )
    lines = ["Full name;Mobile;customer_name;Company"]
    for index, number in enumerate(EXPECTED):
        national = f"({number[2:5]}) {number[5:8]}-{number[8:]}"
        lines.append(f'"Lead {index}; Jr.";{national};Lead {index};Acme {index}')
    content = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")

    report = caller.data(
        caller.http.post(
            "/v1/files",
            files={"file": ("leads.csv", content, "text/csv")},
            data={"callTemplateId": template["_id"], "defaultRegion": "US", "nameColumn": "Full name"},
        )
    )
    assert (report["rowCount"], report["acceptedCount"]) == (10, 10)

    def finished() -> dict[str, object] | None:
        detail: dict[str, object] = caller.data(caller.get(f"/v1/files/{report['_id']}"))
        progress = detail["progress"]
        assert isinstance(progress, dict)
        return detail if progress["finished"] == 10 else None

    detail = wait_until(finished, "every call of the file to end", timeout=180)
    progress = detail["progress"]
    assert progress["byStatus"] == {
        "queued": 0, "ringing": 0, "inProgress": 0, "busy": 1, "failed": 1, "noAnswer": 1, "cancelled": 0,
        "completed": 7,
    }, json.dumps(progress)  # fmt: skip
    # how a conversation ends is the agent's (still changing) business: a person may end it before the agent does
    assert sum(progress["byStatusCode"].values()) == 7
    assert set(progress["byStatusCode"]) <= {"ENDED_NORMALLY", "HUNG_UP_BY_HUMAN"}
    assert progress["byStatusCode"]["HUNG_UP_BY_HUMAN"] >= 1

    results = caller.http.get(f"/v1/files/{report['_id']}/results.csv")
    assert results.status_code == 200
    table = list(csv.reader(io.StringIO(results.text, newline=""), delimiter=";"))
    header = table[0]
    assert header == [
        "Full name", "Mobile", "customer_name", "Company", "status", "statusCode", "attempts", "callStartedAt",
        "callEndedAt", "callDuration", "interest", "city", "tags", "fixedMeetingTime", "recordingUrl",
    ]  # fmt: skip
    col = {name: index for index, name in enumerate(header)}
    listed = caller.data(caller.get("/v1/phoneCalls", params={"fileId": report["_id"]}))
    calls = {call["toPhoneNumber"]: call for call in listed}
    assert len(table) == 11
    for index, (row, number) in enumerate(zip(table[1:], EXPECTED, strict=True)):
        assert row[: col["status"]] == [f"Lead {index}; Jr.", f"({number[2:5]}) {number[5:8]}-{number[8:]}",
                                        f"Lead {index}", f"Acme {index}"]  # fmt: skip
        status, code = EXPECTED[number]
        call = calls[number]
        assert row[col["status"]] == status == call["status"], number
        assert row[col["statusCode"]] == ((call["statusExtraInfo"] or {}).get("statusCode") or ""), number
        if status != "completed" or code == "HUNG_UP_BY_HUMAN":
            assert row[col["statusCode"]] == code, number
        assert row[col["attempts"]] == "1"
        answered = EXPECTED[number][0] == "completed"
        assert bool(row[col["callStartedAt"]]) == answered and bool(row[col["callDuration"]]) == answered
        assert bool(row[col["callEndedAt"]]) == answered or row[col["callEndedAt"]] != ""
        # result values come from the voice agent (in progress): the CSV shows exactly what the API shows, empty
        # where the call has none
        results = {r["columnName"]: r["value"] for r in call["resultValues"] or []}
        assert [row[col["interest"]], row[col["city"]]] == [results.get("interest") or "", results.get("city") or ""]
        assert row[col["tags"]] == ", ".join(call["customTagsHitOnCall"] or [])
        assert row[col["fixedMeetingTime"]] == (call["fixedMeetingTime"] or "")
        assert row[col["recordingUrl"]] == (call["recordingUrl"] or "")
        if not answered:
            assert row[col["interest"]] == row[col["city"]] == ""
