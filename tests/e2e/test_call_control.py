"""Retries on a virtual clock, per-number pacing, and provider callbacks that are forged, repeated or out of order."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from opencaller.domain.clock import parse_timestamp, utc_now
from opencaller.simulator import DEFAULT_AUTH_TOKEN
from opencaller.store.models import PhoneCall
from tests.e2e.conftest import FINAL, wait_until
from tests.support import LiveServer, TeamClient


class VirtualClock:
    """Real time plus an offset the test moves forward, shared by the dispatcher and the callback handler."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


def _call(caller: TeamClient, call_id: str) -> dict[str, Any]:
    return caller.data(caller.get(f"/v1/phoneCalls/{call_id}"))  # type: ignore[no-any-return]


def test_busy_number_is_retried_after_the_configured_delays(calling_server: LiveServer, caller: TeamClient) -> None:
    node = calling_server.app.state.node_calls
    clock = VirtualClock()
    node.dispatcher.clock = clock
    node.runtime.clock = clock
    try:
        template = caller.add_template(retryPolicy={"maxAttempts": 3, "retryOn": ["busy"], "delaysMinutes": [10, 30]})
        call = caller.data(
            caller.post("/v1/phoneCalls", caller.call_body(template["_id"], toPhoneNumber="+12025550101"))
        )

        for attempt, delay in ((1, 10), (2, 30)):
            waiting = wait_until(
                lambda n=attempt: (
                    (c := _call(caller, call["_id"]))["status"] == "queued"
                    and len(c["attempts"]) == n
                    and c["attempts"][-1]["status"] == "busy"
                    and c
                ),
                f"attempt {attempt} to end busy and be re-queued",
            )
            assert waiting["attempts"][-1]["sipResponseCode"] == 486
            clock.offset += timedelta(minutes=delay, seconds=1)
            node.dispatcher.wake.set()

        ended = wait_until(lambda: (c := _call(caller, call["_id"]))["status"] in FINAL and c, "the last attempt")
    finally:
        node.dispatcher.clock = utc_now
        node.runtime.clock = utc_now

    assert ended["status"] == "busy"
    assert [a["status"] for a in ended["attempts"]] == ["busy", "busy", "busy"]
    dialed = [parse_timestamp(a["dialedAt"]) for a in ended["attempts"]]
    assert dialed[1] - dialed[0] >= timedelta(minutes=10)
    assert dialed[2] - dialed[1] >= timedelta(minutes=30)


def _signed_post(
    server: LiveServer, call_id: str, params: dict[str, str], signature: str | None = None
) -> httpx.Response:
    url = f"{server.base_url}/telephony/twilio/status/{call_id}"
    signature = signature or RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(url, params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})


def test_forged_repeated_and_late_callbacks_change_nothing(calling_server: LiveServer, caller: TeamClient) -> None:
    template = caller.add_template()
    created = caller.data(caller.post("/v1/phoneCalls", caller.call_body(template["_id"])))
    done = wait_until(lambda: (c := _call(caller, created["_id"]))["status"] in FINAL and c, "the call to end")
    assert done["status"] == "completed"
    sid = done["attempts"][0]["providerCallId"]
    base = {"CallSid": sid, "AccountSid": "AC" + "5" * 32, "From": "+12025550199", "To": "+12025550100"}

    forged = _signed_post(
        calling_server, created["_id"], {**base, "CallStatus": "busy"}, signature="bm90IGEgc2lnbmF0dXJl"
    )
    late = _signed_post(calling_server, created["_id"], {**base, "CallStatus": "ringing", "SequenceNumber": "1"})
    repeated = _signed_post(
        calling_server,
        created["_id"],
        {**base, "CallStatus": "completed", "CallDuration": "999", "SequenceNumber": "3"},
    )
    unknown_leg = _signed_post(
        calling_server, created["_id"], {**base, "CallSid": "CA" + "0" * 32, "CallStatus": "busy"}
    )

    assert forged.status_code == 403
    assert (late.status_code, repeated.status_code, unknown_leg.status_code) == (204, 204, 204)
    after = _call(caller, created["_id"])
    assert after == done


def test_a_number_with_calls_per_second_is_paced(calling_server: LiveServer, caller: TeamClient) -> None:
    paced = caller.data(caller.post("/v1/phoneNumbers", {"number": "+12025550198", "callsPerSecond": 2}))
    template = caller.add_template()
    bodies = [
        caller.call_body(template["_id"], toPhoneNumber="+12025550101", phoneNumberId=paced["_id"]) for _ in range(5)
    ]
    created = caller.data(caller.post("/v1/phoneCalls/batch", {"phoneCalls": bodies}))

    ended = [
        wait_until(lambda i=c["_id"]: (x := _call(caller, i))["status"] in FINAL and x, "the call to end")
        for c in created
    ]

    dialed = sorted(parse_timestamp(c["attempts"][0]["dialedAt"]) for c in ended)
    gaps = [later - earlier for earlier, later in itertools.pairwise(dialed)]
    assert all(gap >= timedelta(milliseconds=500) for gap in gaps), gaps


def test_a_call_whose_callbacks_were_lost_is_reconciled_with_the_provider(
    calling_server: LiveServer, caller: TeamClient
) -> None:
    template = caller.add_template()
    created = caller.data(caller.post("/v1/phoneCalls", caller.call_body(template["_id"])))
    done = wait_until(lambda: (c := _call(caller, created["_id"]))["status"] in FINAL and c, "the call to end")
    assert done["status"] == "completed"

    async def lose_the_last_callbacks() -> None:
        async with calling_server.db.transaction() as session:
            call = await session.get(PhoneCall, created["_id"])
            assert call is not None
            call.status = "ringing"
            call.call_started_at = None
            call.call_ended_at = None
            call.updated_at = utc_now() - timedelta(hours=1)

    calling_server.run(lose_the_last_callbacks())
    assert _call(caller, created["_id"])["status"] == "ringing"

    changed = calling_server.run(calling_server.app.state.node_calls.dispatcher.reconcile())

    assert changed == 1
    assert _call(caller, created["_id"])["status"] == "completed"
