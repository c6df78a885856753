"""The simulator's Twilio REST API: auth, validation errors and resource shapes, as a Twilio client sees them."""

from __future__ import annotations

import re

import httpx

from .conftest import ACCOUNT_SID, AUTH_TOKEN, Harness

SID = re.compile(r"^CA[0-9a-f]{32}$")
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


async def test_create_call_returns_twilio_call_resource(harness: Harness) -> None:
    call = await harness.dial_ok("+15005550008")
    assert SID.match(call["sid"])
    assert call["status"] == "queued"
    assert call["direction"] == "outbound-api"
    assert call["to"] == "+15005550008"
    assert call["from"] == "+15005550199"
    assert call["account_sid"] == ACCOUNT_SID
    assert call["api_version"] == "2010-04-01"
    assert RFC2822.match(call["date_created"])
    assert call["start_time"] is None and call["end_time"] is None
    assert call["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call['sid']}.json"

    fetched = await harness.rest.get(f"{harness.calls_path}/{call['sid']}.json")
    assert fetched.status_code == 200
    assert fetched.json()["sid"] == call["sid"]
    await harness.update(call["sid"], Status="canceled")


async def test_bad_credentials_get_401_with_twilio_error(harness: Harness) -> None:
    for auth in [(ACCOUNT_SID, "wrong-token"), ("AC" + "0" * 32, AUTH_TOKEN)]:
        async with httpx.AsyncClient(base_url=harness.simulator_url, auth=auth, trust_env=False) as client:
            response = await client.post(harness.calls_path + ".json", data={"To": "+15005550000"})
        assert response.status_code == 401
        assert response.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
    unauthenticated = await harness.inspect.get(f"{harness.calls_path}/CA{'0' * 32}.json")
    assert unauthenticated.status_code == 401
    assert (await harness.inspect.get("/_simulator/stats")).json()["total_dials"] == 0


async def test_invalid_to_is_21211_and_nothing_is_dialled(harness: Harness) -> None:
    response = await harness.dial("12345")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 21211
    assert body["status"] == 400
    assert "12345" in body["message"]
    assert body["more_info"].endswith("/21211")
    stats = (await harness.inspect.get("/_simulator/stats")).json()
    assert stats["total_dials"] == 0


async def test_missing_parameters_use_twilio_codes(harness: Harness) -> None:
    no_to = await harness.rest.post(harness.calls_path + ".json", data={"From": "+15005550199", "Twiml": "<Response/>"})
    assert no_to.json()["code"] == 21201
    no_url = await harness.dial("+15005550000", Url=None)
    assert no_url.status_code == 400
    assert no_url.json()["code"] == 21205
    bad_from = await harness.dial("+15005550000", From="not-a-number")
    assert bad_from.json()["code"] == 21212


async def test_unknown_call_is_20404(harness: Harness) -> None:
    sid = "CA" + "f" * 32
    fetched = await harness.rest.get(f"{harness.calls_path}/{sid}.json")
    assert fetched.status_code == 404
    assert fetched.json()["code"] == 20404
    updated = await harness.update(sid, Status="completed")
    assert updated.status_code == 404
    assert updated.json()["code"] == 20404


async def test_dials_are_counted_per_number(harness: Harness) -> None:
    first = await harness.dial_ok("+15005550001")
    second = await harness.dial_ok("+15005550001")
    third = await harness.dial_ok("+1 (500) 555-0003")
    for call in (first, second, third):
        await harness.platform.wait_final_status(call["sid"])
    listing = (await harness.inspect.get("/_simulator/calls")).json()
    assert listing["total_dials"] == 3
    assert listing["dials"] == {"+15005550001": 2, "+15005550003": 1}
    assert [c["sid"] for c in listing["calls"]] == [first["sid"], second["sid"], third["sid"]]
    assert {c["status"] for c in listing["calls"]} == {"busy", "failed"}
