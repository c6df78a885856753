"""``/v1/phoneNumbers``, ``/v1/teams/me`` and ``/v1/apiKeys`` over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, text

from opencaller.store.models import Team
from tests.support import LiveServer, TeamClient

TWILIO_TOKEN = "tok-d3adb33f-never-show-me"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"


def numbers_by_id(team: TeamClient) -> dict[str, dict[str, Any]]:
    return {n["_id"]: n for n in team.data(team.get("/v1/phoneNumbers"))}


# --- phone numbers -------------------------------------------------------------------------------------------------


def test_number_crud_and_e164_normalisation(team: TeamClient) -> None:
    created = team.data(
        team.post(
            "/v1/phoneNumbers",
            {"number": "+1 (202) 555-0199", "label": "Sales", "concurrencyLimit": 3, "callsPerSecond": 1.5},
        )
    )
    path = f"/v1/phoneNumbers/{created['_id']}"

    assert created["number"] == "+12025550199"
    assert created["teamId"] == team.team_id
    assert (created["label"], created["concurrencyLimit"], created["callsPerSecond"]) == ("Sales", 3, 1.5)
    assert created["telephonyProvider"] == "twilio"
    assert team.data(team.get(path)) == created

    patched = team.data(team.patch(path, {"label": "Support", "telephonyProvider": "plivo", "concurrencyLimit": None}))
    assert (patched["label"], patched["telephonyProvider"], patched["concurrencyLimit"]) == ("Support", "plivo", None)
    assert patched["number"] == "+12025550199" and patched["callsPerSecond"] == 1.5
    assert team.data(team.get(path)) == patched

    assert team.data(team.delete(path)) == {"_id": created["_id"], "deleted": True}
    for response in (team.get(path), team.patch(path, {"label": "x"}), team.delete(path)):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert team.data(team.get("/v1/phoneNumbers")) == []


def test_number_that_is_not_a_phone_number_is_refused(team: TeamClient) -> None:
    for number in ("555-0100", "hello", "+1202", ""):
        response = team.post("/v1/phoneNumbers", {"number": number})
        assert response.status_code == 400, number
        assert response.json()["error"]["details"][0]["field"] == "number"
    assert team.data(team.get("/v1/phoneNumbers")) == []


def test_duplicate_number_is_a_conflict_whatever_its_spelling(team: TeamClient) -> None:
    first = team.add_number("+12025550199")
    response = team.post("/v1/phoneNumbers", {"number": "+1 202-555-0199"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert list(numbers_by_id(team)) == [first["_id"]]


def test_first_number_becomes_default_and_default_can_move(team: TeamClient) -> None:
    first = team.add_number("+12025550101")
    second = team.add_number("+12025550102")
    assert first["isDefault"] is True and second["isDefault"] is False
    assert team.data(team.get("/v1/teams/me"))["defaultPhoneNumberId"] == first["_id"]

    moved = team.data(team.patch(f"/v1/phoneNumbers/{second['_id']}", {"isDefault": True}))
    assert moved["isDefault"] is True
    flags = {i: n["isDefault"] for i, n in numbers_by_id(team).items()}
    assert flags == {first["_id"]: False, second["_id"]: True}
    assert team.data(team.get("/v1/teams/me"))["defaultPhoneNumberId"] == second["_id"]

    third = team.add_number("+12025550103", isDefault=True)
    assert third["isDefault"] is True
    assert [i for i, n in numbers_by_id(team).items() if n["isDefault"]] == [third["_id"]]

    # a call without a caller number now goes out from the default
    template = team.add_template()
    call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    assert (call["phoneNumberId"], call["fromPhoneNumber"]) == (third["_id"], "+12025550103")

    cleared = team.data(team.patch(f"/v1/phoneNumbers/{third['_id']}", {"isDefault": False}))
    assert cleared["isDefault"] is False
    assert team.data(team.get("/v1/teams/me"))["defaultPhoneNumberId"] is None


def test_deleting_the_default_number_clears_the_default(team: TeamClient) -> None:
    number = team.add_number()
    team.data(team.delete(f"/v1/phoneNumbers/{number['_id']}"))
    assert team.data(team.get("/v1/teams/me"))["defaultPhoneNumberId"] is None


def test_number_used_by_queued_calls_cannot_be_deleted(team: TeamClient) -> None:
    number = team.add_number()
    template = team.add_template()
    call = team.data(team.post("/v1/phoneCalls", team.call_body(template["_id"])))
    path = f"/v1/phoneNumbers/{number['_id']}"

    response = team.delete(path)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert team.data(team.get(path)) == number

    team.data(team.post(f"/v1/phoneCalls/{call['_id']}/cancel"))
    assert team.data(team.delete(path))["deleted"] is True


# --- teams/me ------------------------------------------------------------------------------------------------------


def test_team_read_and_update(team: TeamClient) -> None:
    before = team.data(team.get("/v1/teams/me"))
    assert before["_id"] == team.team_id
    assert before["providerCredentialsConfigured"] == []

    after = team.data(
        team.patch("/v1/teams/me", {"name": "  Acme Calls ", "concurrencyLimit": 4, "timeZone": "Europe/Berlin"})
    )

    assert (after["name"], after["concurrencyLimit"], after["timeZone"]) == ("Acme Calls", 4, "Europe/Berlin")
    assert team.data(team.get("/v1/teams/me")) == after


def test_bad_team_settings_are_refused_and_change_nothing(team: TeamClient) -> None:
    before = team.data(team.get("/v1/teams/me"))
    for body, field in (
        ({"name": "   "}, "name"),
        ({"concurrencyLimit": 0}, "concurrencyLimit"),
        ({"concurrencyLimit": "many"}, "concurrencyLimit"),
        ({"timeZone": "Mars/Olympus_Mons"}, "timeZone"),
        ({"defaultPhoneNumberId": "000000000000000000000000"}, "defaultPhoneNumberId"),
        ({"providerCredentials": {"twilio": {"accountSid": TWILIO_SID}}}, "providerCredentials.twilio.authToken"),
    ):
        response = team.patch("/v1/teams/me", body)
        assert response.status_code == 400, (body, response.text)
        assert field in [d["field"] for d in response.json()["error"]["details"]], response.text
    assert team.data(team.get("/v1/teams/me")) == before


def test_default_number_of_another_team_is_refused(team: TeamClient, other_team: TeamClient) -> None:
    theirs = other_team.add_number()
    response = team.patch("/v1/teams/me", {"defaultPhoneNumberId": theirs["_id"]})
    assert response.status_code in (400, 404)
    assert team.data(team.get("/v1/teams/me"))["defaultPhoneNumberId"] is None


def test_provider_credentials_are_stored_encrypted_and_never_returned(server: LiveServer, team: TeamClient) -> None:
    bodies: list[str] = []

    def call(response: httpx.Response) -> Any:
        bodies.append(response.text)
        return team.data(response)

    creds = {"twilio": {"accountSid": TWILIO_SID, "authToken": TWILIO_TOKEN}}
    patched = call(team.patch("/v1/teams/me", {"providerCredentials": creds}))
    assert patched["providerCredentialsConfigured"] == ["twilio"]
    assert call(team.get("/v1/teams/me"))["providerCredentialsConfigured"] == ["twilio"]

    # a later update of other settings keeps them; another provider adds to them
    call(team.patch("/v1/teams/me", {"name": "Renamed"}))
    both = call(team.patch("/v1/teams/me", {"providerCredentials": {"telnyx": {"apiKey": "KEY-telnyx-secret"}}}))
    assert both["providerCredentialsConfigured"] == ["telnyx", "twilio"]
    for path in ("/v1/teams/me", "/v1/phoneNumbers", "/v1/apiKeys", "/v1/callTemplates", "/v1/phoneCalls"):
        call(team.get(path))

    for body in bodies:
        assert TWILIO_TOKEN not in body and TWILIO_SID not in body and "KEY-telnyx-secret" not in body

    async def stored() -> str | None:
        async with server.db.read() as session:
            return await session.scalar(select(Team.provider_credentials).where(Team.id == team.team_id))

    column = server.run(stored())
    assert column is not None
    assert TWILIO_TOKEN not in column and TWILIO_SID not in column and "KEY-telnyx-secret" not in column

    removed = call(team.patch("/v1/teams/me", {"providerCredentials": {"twilio": None}}))
    assert removed["providerCredentialsConfigured"] == ["telnyx"]


def test_refused_credentials_are_not_echoed(team: TeamClient) -> None:
    response = team.patch(
        "/v1/teams/me", {"providerCredentials": {"twilio": {"accountSid": "", "authToken": TWILIO_TOKEN}}}
    )
    assert response.status_code == 400
    assert TWILIO_TOKEN not in response.text
    assert team.data(team.get("/v1/teams/me"))["providerCredentialsConfigured"] == []


# --- API keys ------------------------------------------------------------------------------------------------------


def key_client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"aicaller-api-key": key})


def test_api_key_is_shown_once_and_listed_by_prefix(server: LiveServer, team: TeamClient) -> None:
    created = team.data(team.post("/v1/apiKeys", {"name": "ci"}))
    plain = created["apiKey"]

    assert created["name"] == "ci" and created["teamId"] == team.team_id and created["revokedAt"] is None
    assert plain.startswith(created["prefix"]) and len(plain) > len(created["prefix"]) + 16
    listed = team.get("/v1/apiKeys")
    keys = listed.json()["data"]
    assert {k["name"] for k in keys} == {"default", "ci"}
    assert all("apiKey" not in k for k in keys)
    assert plain not in listed.text and team.api_key not in listed.text
    with key_client(server, plain) as client:
        assert client.get("/v1/teams/me").json()["data"]["_id"] == team.team_id


def test_revoked_key_answers_401_and_the_other_still_works(server: LiveServer, team: TeamClient) -> None:
    created = team.data(team.post("/v1/apiKeys", {"name": "temporary"}))

    revoked = team.data(team.delete(f"/v1/apiKeys/{created['_id']}"))

    assert revoked["revokedAt"] is not None and "apiKey" not in revoked
    with key_client(server, created["apiKey"]) as client:
        response = client.get("/v1/teams/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert team.data(team.get("/v1/teams/me"))["_id"] == team.team_id
    listed = {k["_id"]: k for k in team.data(team.get("/v1/apiKeys"))}
    assert listed[created["_id"]]["revokedAt"] == revoked["revokedAt"]


def test_unknown_key_id_answers_404(team: TeamClient) -> None:
    for key_id in ("000000000000000000000000", "not-a-key"):
        response = team.delete(f"/v1/apiKeys/{key_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_keys_are_stored_hashed(server: LiveServer, team: TeamClient) -> None:
    plain = team.data(team.post("/v1/apiKeys", {"name": "hashed"}))["apiKey"]

    async def rows() -> list[str]:
        async with server.db.read() as session:
            result = await session.execute(text("SELECT * FROM api_keys WHERE team_id = :t"), {"t": team.team_id})
            return [" ".join(str(value) for value in row) for row in result]

    stored = server.run(rows())
    assert len(stored) == 2
    for row in stored:
        assert plain not in row and team.api_key not in row
        assert plain[10:30] not in row and team.api_key[10:30] not in row
