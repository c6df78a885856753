"""Real calls: the dispatcher dials the built-in simulator callees through the Twilio adapter, over real HTTP
and WebSocket, and the call records tell what happened."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import FINAL, wait_until
from tests.support import LiveServer, TeamClient


def _final(caller: TeamClient, call_ids: list[str]) -> dict[str, dict[str, Any]]:
    def check() -> dict[str, dict[str, Any]] | None:
        calls = {i: caller.data(caller.get(f"/v1/phoneCalls/{i}")) for i in call_ids}
        return calls if all(c["status"] in FINAL for c in calls.values()) else None

    result: dict[str, dict[str, Any]] = wait_until(check, "calls to end")
    return result


def test_built_in_callees_end_as_they_should(caller: TeamClient) -> None:
    template = caller.add_template(firstMessage="Hello {{customer_name}}, this is a short test call. Goodbye.")
    numbers = {
        "person": "+12025550100",
        "busy": "+12025550101",
        "no_answer": "+12025550102",
        "unroutable": "+12025550105",
        "hangs_up": "+12025550108",
    }
    created = caller.data(
        caller.post(
            "/v1/phoneCalls/batch",
            {"phoneCalls": [caller.call_body(template["_id"], toPhoneNumber=n) for n in numbers.values()]},
        )
    )
    ids = dict(zip(numbers, (c["_id"] for c in created), strict=True))

    calls = _final(caller, list(ids.values()))

    person = calls[ids["person"]]
    assert person["status"] == "completed"
    assert person["statusExtraInfo"] == {"statusCode": "ENDED_NORMALLY"}
    assert person["callTriggeredAt"] and person["callStartedAt"] and person["callEndedAt"]
    assert person["callDuration"] >= 1
    assert person["telephonyProvider"] == "twilio"
    assert [a["status"] for a in person["attempts"]] == ["completed"]
    assert person["attempts"][0]["providerCallId"].startswith("CA")
    transcript = caller.data(caller.get("/v1/transcripts", params={"phoneCallId": person["_id"]}))
    assert transcript[0]["role"] == "agent"
    assert transcript[0]["text"] == "Hello John, this is a short test call. Goodbye."

    busy = calls[ids["busy"]]
    assert busy["status"] == "busy"
    assert busy["attempts"][0]["sipResponseCode"] == 486
    assert busy["callStartedAt"] is None

    assert calls[ids["no_answer"]]["status"] == "noAnswer"
    assert calls[ids["unroutable"]]["status"] == "failed"

    hung_up = calls[ids["hangs_up"]]
    assert hung_up["status"] == "completed"
    assert hung_up["statusExtraInfo"] == {"statusCode": "HUNG_UP_BY_HUMAN"}
    assert hung_up["callDuration"] <= 2


def test_cancel_while_queued_never_dials(caller: TeamClient) -> None:
    template = caller.add_template()
    later = caller.data(
        caller.post("/v1/phoneCalls", caller.call_body(template["_id"], callDelayedUntil="2999-01-01T00:00:00.000Z"))
    )
    cancelled = caller.data(caller.post(f"/v1/phoneCalls/{later['_id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["attempts"] == []


def test_do_not_call_numbers_are_never_dialled(caller: TeamClient) -> None:
    template = caller.add_template()
    caller.data(caller.post("/v1/doNotCall", {"number": "+12025550100"}))
    call = caller.data(caller.post("/v1/phoneCalls", caller.call_body(template["_id"])))

    ended = _final(caller, [call["_id"]])[call["_id"]]

    assert ended["status"] == "cancelled"
    assert ended["statusExtraInfo"] == {"statusCode": "DO_NOT_CALL"}
    assert ended["attempts"] == []


def test_cancel_while_ringing_stops_the_ringing(calling_server: LiveServer, caller: TeamClient) -> None:
    template = caller.add_template()
    call = caller.data(caller.post("/v1/phoneCalls", caller.call_body(template["_id"], toPhoneNumber="+12025550102")))
    wait_until(lambda: caller.data(caller.get(f"/v1/phoneCalls/{call['_id']}"))["status"] == "ringing", "ringing")

    cancelled = caller.data(caller.post(f"/v1/phoneCalls/{call['_id']}/cancel"))

    assert cancelled["status"] == "cancelled"
    sid = cancelled["attempts"][0]["providerCallId"]
    simulated = httpx.get(f"{calling_server.app.state.node_calls.simulator_url}/_simulator/calls/{sid}").json()
    assert simulated["status"] == "canceled"
    after = caller.data(caller.get(f"/v1/phoneCalls/{call['_id']}"))
    assert after["status"] == "cancelled"
    assert after["statusExtraInfo"] == {"statusCode": "CANCELLED_BY_USER"}
