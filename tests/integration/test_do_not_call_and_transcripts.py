"""``/v1/doNotCall`` and ``/v1/transcripts`` over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opencaller.store.models import TranscriptTurn
from tests.support import LiveServer, TeamClient

# --- do not call ---------------------------------------------------------------------------------------------------


def test_add_list_and_remove(team: TeamClient) -> None:
    entry = team.data(team.post("/v1/doNotCall", {"number": "+1 (202) 555-0100", "reason": "asked on the phone"}))

    assert entry["number"] == "+12025550100"
    assert (entry["teamId"], entry["reason"], entry["source"]) == (team.team_id, "asked on the phone", "api")
    listed = team.get("/v1/doNotCall").json()
    assert listed == {"data": [entry], "pagination": {"limit": 100, "nextCursor": None}}

    assert team.data(team.delete(f"/v1/doNotCall/{entry['_id']}")) == {"_id": entry["_id"], "deleted": True}
    assert team.data(team.get("/v1/doNotCall")) == []
    again = team.delete(f"/v1/doNotCall/{entry['_id']}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"


def test_adding_a_number_twice_returns_the_same_entry(team: TeamClient) -> None:
    first = team.data(team.post("/v1/doNotCall", {"number": "+12025550100", "reason": "first"}))
    second = team.data(team.post("/v1/doNotCall", {"number": "+1 202 555 0100", "reason": "second"}))

    assert second == first
    assert team.data(team.get("/v1/doNotCall")) == [first]


def test_list_pages_newest_first(team: TeamClient) -> None:
    ids = [team.data(team.post("/v1/doNotCall", {"number": f"+1202555010{n}"}))["_id"] for n in range(3)]
    first = team.get("/v1/doNotCall", params={"limit": 2}).json()
    second = team.get("/v1/doNotCall", params={"limit": 2, "cursor": first["pagination"]["nextCursor"]}).json()
    assert [e["_id"] for e in first["data"] + second["data"]] == ids[::-1]
    assert second["pagination"]["nextCursor"] is None


def test_bad_numbers_are_refused(team: TeamClient) -> None:
    for body in ({"number": "555-0100"}, {"number": "call me maybe"}, {"number": ""}, {}, {"number": 12025550100}):
        response = team.post("/v1/doNotCall", body)
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert [d["field"] for d in error["details"]] == ["number"], body
    assert team.data(team.get("/v1/doNotCall")) == []


def test_unknown_entry_ids_answer_404(team: TeamClient) -> None:
    for entry_id in ("000000000000000000000000", "nope"):
        response = team.delete(f"/v1/doNotCall/{entry_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


# --- transcripts ---------------------------------------------------------------------------------------------------


def new_call(team: TeamClient) -> dict[str, object]:
    team.add_number()
    template = team.add_template()
    return team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))  # type: ignore[no-any-return]


def test_phone_call_id_is_required(team: TeamClient) -> None:
    response = team.get("/v1/transcripts")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["phoneCallId"]


def test_unknown_call_answers_404(team: TeamClient) -> None:
    for call_id in ("000000000000000000000000", "12345678901234567890"):
        response = team.get("/v1/transcripts", params={"phoneCallId": call_id})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_a_new_call_has_an_empty_transcript(team: TeamClient) -> None:
    call = new_call(team)
    assert team.get("/v1/transcripts", params={"phoneCallId": call["_id"]}).json() == {"data": []}


def test_turns_come_back_in_order(server: LiveServer, team: TeamClient) -> None:
    call = new_call(team)
    start = datetime(2024, 3, 11, 10, 0, 0, 123000, tzinfo=UTC)
    lines = [("agent", "Hi John, this is Ava."), ("human", "Hello?"), ("agent", "Do you have a minute?")]
    turns = [
        TranscriptTurn(
            team_id=team.team_id,
            phone_call_id=call["_id"],
            seq=seq,
            role=role,
            text=text,
            started_at=start + timedelta(seconds=3 * seq),
            ended_at=start + timedelta(seconds=3 * seq + 2),
        )
        for seq, (role, text) in enumerate(lines)
    ]
    server.add_rows(*reversed(turns))  # stored out of order on purpose

    body = team.get("/v1/transcripts", params={"phoneCallId": call["_id"]}).json()

    assert body == {
        "data": [
            {"role": "agent", "text": "Hi John, this is Ava.",
             "startedAt": "2024-03-11T10:00:00.123Z", "endedAt": "2024-03-11T10:00:02.123Z"},
            {"role": "human", "text": "Hello?",
             "startedAt": "2024-03-11T10:00:03.123Z", "endedAt": "2024-03-11T10:00:05.123Z"},
            {"role": "agent", "text": "Do you have a minute?",
             "startedAt": "2024-03-11T10:00:06.123Z", "endedAt": "2024-03-11T10:00:08.123Z"},
        ]
    }  # fmt: skip


def test_another_calls_turns_are_not_mixed_in(server: LiveServer, team: TeamClient) -> None:
    first = new_call(team)
    template = team.data(team.get("/v1/callTemplates"))[0]
    second = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    server.add_rows(
        TranscriptTurn(team_id=team.team_id, phone_call_id=second["_id"], seq=0, role="agent", text="other call")
    )

    assert team.get("/v1/transcripts", params={"phoneCallId": first["_id"]}).json() == {"data": []}
    turns = team.data(team.get("/v1/transcripts", params={"phoneCallId": second["_id"]}))
    assert turns == [{"role": "agent", "text": "other call", "startedAt": None, "endedAt": None}]
