"""The conversational agent on real calls: Pipecat with offline Whisper and Piper, against the simulator's
callees (which speak with Piper and listen with Whisper themselves). Models load once for the session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import FINAL, wait_until
from tests.support import LiveServer, TeamClient, running_server

COLUMNS = [
    {"columnName": "name", "description": "name", "question": "May I have your full name, please?"},
    {"columnName": "city", "description": "city", "question": "Which city do you live in?"},
    {"columnName": "email", "description": "email address", "question": "What is your email address?"},
    {"columnName": "interest", "description": "interest", "question": "What are you interested in?"},
    {
        "columnName": "followUp",
        "description": "follow-up call",
        "type": "boolean",
        "question": "Is it okay if we give you a follow-up call?",
    },
]


@pytest.fixture(scope="session")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A calling node with the scripted conversational agent (models loaded once, at start)."""
    settings = {"ring_timeout_seconds": 5, "webhook_worker_enabled": False, "agent": "scripted"}
    with running_server("sqlite", tmp_path_factory.mktemp("agent"), **settings) as live:
        yield live


@pytest.fixture
def team(agent_server: LiveServer) -> TeamClient:
    client = agent_server.new_team("Agent callers")
    client.add_number()
    return client


def _call(team: TeamClient, number: str, **template: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    created = team.add_template(
        firstMessage="Hi {{customer_name}}, this is Sam from Sunny Solar.", resultColumns=COLUMNS, **template
    )
    call = team.data(team.post("/v1/phoneCalls", team.call_body(created["_id"], toPhoneNumber=number)))

    def ended() -> dict[str, Any] | None:
        current: dict[str, Any] = team.data(team.get(f"/v1/phoneCalls/{call['_id']}"))
        return current if current["status"] in FINAL else None

    final: dict[str, Any] = wait_until(ended, "the call to end", timeout=180)
    # a final status is only shown once the agent's transcript and outcome are stored, even when the callee
    # hung up before the agent had finished
    transcript = team.data(team.get("/v1/transcripts", params={"phoneCallId": call["_id"]}))
    assert transcript, "the call ended without its transcript"
    return final, transcript


def test_cooperative_callee_fills_every_result_column(team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550100", customTags=[{"name": "solar", "keywords": ["solar panels"]}])

    assert call["status"] == "completed"
    assert call["statusExtraInfo"]["statusCode"] == "ENDED_NORMALLY"
    values = {v["columnName"]: v["value"] for v in call["resultValues"]}
    assert values["name"].lower() == "alex morgan"
    assert values["city"].lower() == "new york"
    # Whisper tiny.en, hearing the callee's Piper voice over µ-law, sometimes writes "morgon": the spelling of the
    # name is the recognizer's; the agent's part is to turn "alex dot morgan at example dot com" into an address
    assert re.fullmatch(r"alex\.morg[a-z]n@example\.com", values["email"]), values["email"]
    assert "solar" in values["interest"].lower()
    assert values["followUp"] is True
    assert call["customTagsHitOnCall"] == ["solar"]
    roles = {t["role"] for t in transcript}
    assert roles == {"agent", "human"}
    assert "goodbye" in transcript[-1]["text"].lower() or "goodbye" in transcript[-2]["text"].lower()


def test_callee_busy_now_is_called_back_tomorrow_at_five(team: TeamClient) -> None:
    call, _ = _call(team, "+12025550106", callLater={"autoRedial": True})

    assert call["statusExtraInfo"]["statusCode"] == "CALL_LATER"
    when = datetime.fromisoformat(call["statusExtraInfo"]["dateTime"].replace("Z", "+00:00"))
    new_york = ZoneInfo("America/New_York")
    tomorrow = (datetime.now(UTC).astimezone(new_york) + timedelta(days=1)).date()
    assert when.astimezone(new_york).replace(tzinfo=None) == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 17)
    redials = team.data(team.get("/v1/phoneCalls", params={"toPhoneNumber": "+12025550106", "status": "queued"}))
    assert any(c["callDelayedUntil"] and c["_id"] != call["_id"] for c in redials)


def test_do_not_call_request_puts_the_number_on_the_list(team: TeamClient) -> None:
    call, transcript = _call(team, "+12025550107")

    assert call["statusExtraInfo"]["statusCode"] == "DO_NOT_CALL"
    assert any("never call" in t["text"].lower() or "off your list" in t["text"].lower() for t in transcript)
    listed = team.data(team.get("/v1/doNotCall"))
    assert any(entry["number"] == "+12025550107" for entry in listed)
