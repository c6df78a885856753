"""The LLM brain on real calls: Pipecat with offline Whisper and Piper, the simulator's callees, and the
OpenAI-compatible stand-in (tests/llm_stand_in.py) as the model, reached through the server's LLM settings.

The stand-in plays a model that follows the conversation: it answers by what the callee said last (as Whisper
heard it), calls the tools a good model would, and answers the post-call extraction. What is checked is what a
user sees: the stored call's outcome, meeting, tags, typed result values and transcript, and what the model was
sent (the rendered prompt, the tools, the key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import wait_for_end
from tests.llm_stand_in import (
    BRAIN_TOOLS,
    Answer,
    ChatStandIn,
    RecordedRequest,
    ScriptedCall,
    after_tools,
    chat_stand_in,
    last_user_text,
    tool_answers,
)
from tests.support import LiveServer, TeamClient, scripted_agent_server

KEY = "sk-e2e-stand-in-key"
NEW_YORK = ZoneInfo("America/New_York")
PROMPT = "You are Sam from Sunny Solar, calling {{customer_name}} about solar panels. Be brief."
COLUMNS = [
    {"columnName": "name", "description": "full name"},
    {"columnName": "city", "description": "city they live in"},
    {"columnName": "followUp", "type": "boolean", "description": "agrees to a follow-up"},
    {"columnName": "roofSize", "type": "number", "description": "roof size in square metres"},
]


@pytest.fixture(scope="module")
def stand_in() -> Iterator[ChatStandIn]:
    """The model; each test sets its ``script``."""
    with chat_stand_in(lambda body: Answer(status=500)) as running:
        yield running


@pytest.fixture(scope="module")
def llm_server(stand_in: ChatStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A calling node with the conversational agent whose LLM settings point at the stand-in."""
    settings = {"llm_base_url": stand_in.base_url, "llm_model": "stand-in-model", "llm_api_key": KEY}
    with scripted_agent_server(tmp_path_factory.mktemp("llm-agent"), **settings) as live:
        yield live


@pytest.fixture
def team(llm_server: LiveServer) -> TeamClient:
    return llm_server.new_caller_team("LLM callers")


def _call(team: TeamClient, number: str, **template: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    created = team.add_template(
        **{
            "prompt": PROMPT,
            "firstMessage": "Hi {{customer_name}}, this is Sam from Sunny Solar. May I have your full name, please?",
            "resultColumns": COLUMNS,
            "customTags": [{"name": "solar", "description": "wants solar panels"}],
            "brain": {"type": "llm"},
            **template,
        }
    )
    call = team.data(team.post("/v1/phoneCalls", team.call_body(created["_id"], toPhoneNumber=number)))
    final = wait_for_end(team, call["_id"], timeout=180)
    transcript = team.data(team.get("/v1/transcripts", params={"phoneCallId": call["_id"]}))
    return final, transcript


def _callee_today(body: dict[str, Any]) -> date:
    """The callee's date, as the brain told the model in the system prompt."""
    found = re.search(
        r"local time is \w+ (\d{4}-\d{2}-\d{2}) \d{2}:\d{2} \(America/New_York\)", body["messages"][0]["content"]
    )
    assert found, body["messages"][0]["content"]
    return date.fromisoformat(found.group(1))


def _tomorrow_at(body: dict[str, Any], hour: int) -> str:
    return f"{_callee_today(body) + timedelta(days=1)}T{hour:02d}:00"


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(NEW_YORK)


def _conversation(stand_in: ChatStandIn) -> list[RecordedRequest]:
    return [r for r in stand_in.requests if r.streamed]


def test_the_llm_books_a_meeting_tags_ends_the_call_and_fills_the_columns(
    stand_in: ChatStandIn, team: TeamClient
) -> None:
    def model(body: dict[str, Any]) -> Answer:
        if "response_format" in body:
            transcript = body["messages"][-1]["content"].lower()
            found = {"name": "Alex Morgan" if "alex" in transcript else None, "city": "New York", "followUp": True}
            return Answer(text=json.dumps({**found, "roofSize": "about forty"}))  # a number as text: wrong type
        if after_tools(body):
            return Answer(
                text="Wonderful, you are booked for tomorrow at ten. Thank you for your time, goodbye.",
                tool_calls=[ScriptedCall("end_call")],
            )
        said = last_user_text(body)
        if "follow" in said or "fine" in said:
            meeting = ScriptedCall("book_meeting", {"datetime": _tomorrow_at(body, 10)})
            return Answer(tool_calls=[meeting, ScriptedCall("tag", {"name": "solar"})])
        if "york" in said or "live" in said:
            return Answer(text="Great, thank you. Is it okay if we give you a follow-up call tomorrow at ten?")
        if "name" in said or "alex" in said:
            return Answer(text="Thank you, Alex. Which city do you live in?")
        return Answer(text="Sorry, could you say that again?")

    stand_in.requests.clear()
    stand_in.script = model
    call, transcript = _call(team, "+12025550100")

    assert call["status"] == "completed"
    assert call["statusExtraInfo"]["statusCode"] == "ENDED_NORMALLY"
    conversation = _conversation(stand_in)
    meeting = _local(call["fixedMeetingTime"])
    assert meeting.date() == _callee_today(conversation[0].body) + timedelta(days=1) and meeting.hour == 10
    assert call["customTagsHitOnCall"] == ["solar"]
    values = {v["columnName"]: v["value"] for v in call["resultValues"]}
    assert values == {"name": "Alex Morgan", "city": "New York", "followUp": True, "roofSize": None}

    agent_said = " ".join(t["text"] for t in transcript if t["role"] == "agent").lower()
    assert "which city do you live in" in agent_said and "goodbye" in agent_said
    assert any("new york" in t["text"].lower() for t in transcript if t["role"] == "human")

    first = conversation[0]
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.body["model"] == "stand-in-model"
    system = first.messages[0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are Sam from Sunny Solar, calling John about solar panels. Be brief.")
    assert set(first.tool_names) == set(BRAIN_TOOLS)
    assert first.messages[1]["content"] == "Hi John, this is Sam from Sunny Solar. May I have your full name, please?"
    assert all(a["ok"] for r in conversation for a in tool_answers(r.body))
    (extraction,) = stand_in.extraction_requests
    assert extraction.body["response_format"]["type"] == "json_schema"
    assert set(extraction.body["response_format"]["json_schema"]["schema"]["properties"]) == {
        "name",
        "city",
        "followUp",
        "roofSize",
    }


def test_the_llm_schedules_the_callback_the_callee_asks_for(stand_in: ChatStandIn, team: TeamClient) -> None:
    def model(body: dict[str, Any]) -> Answer:
        if "response_format" in body:
            return Answer(text=json.dumps({"name": None, "city": None, "followUp": None, "roofSize": None}))
        if "tomorrow" in last_user_text(body) or "call me back" in last_user_text(body):
            callback = ScriptedCall("schedule_callback", {"datetime": _tomorrow_at(body, 17)})
            return Answer(text="Of course, I will call you back tomorrow at 5 pm. Goodbye.", tool_calls=[callback])
        return Answer(text="When would be a good time to call you back?")

    stand_in.requests.clear()
    stand_in.script = model
    call, _ = _call(team, "+12025550106", callLater={"autoRedial": True})

    assert call["statusExtraInfo"]["statusCode"] == "CALL_LATER"
    when = _local(call["statusExtraInfo"]["dateTime"])
    today = _callee_today(_conversation(stand_in)[0].body)
    assert when.replace(tzinfo=None) == datetime.combine(today + timedelta(days=1), datetime.min.time()).replace(
        hour=17
    )
    assert [v["value"] for v in call["resultValues"]] == [None, None, None, None]
    redials = team.data(team.get("/v1/phoneCalls", params={"toPhoneNumber": "+12025550106", "status": "queued"}))
    assert any(c["callDelayedUntil"] and c["_id"] != call["_id"] for c in redials)


def test_the_llm_marks_do_not_call_and_the_number_is_listed(stand_in: ChatStandIn, team: TeamClient) -> None:
    def model(body: dict[str, Any]) -> Answer:
        if "response_format" in body:
            return Answer(text="{}")  # nothing established: every column is null
        said = last_user_text(body)
        if "never call" in said or "off your list" in said:
            return Answer(
                text="I understand. We will not call you again. Sorry for the trouble, goodbye.",
                tool_calls=[ScriptedCall("mark_do_not_call")],
            )
        return Answer(text="Sorry, could you say that again?")

    stand_in.requests.clear()
    stand_in.script = model
    call, transcript = _call(team, "+12025550107")

    # the callee hangs up right after its request: the model still hears it and acts, unheard
    assert call["statusExtraInfo"]["statusCode"] == "DO_NOT_CALL"
    assert any("never call" in t["text"].lower() for t in transcript if t["role"] == "human")
    assert "never call" in last_user_text(_conversation(stand_in)[-1].body)
    assert any(entry["number"] == "+12025550107" for entry in team.data(team.get("/v1/doNotCall")))
    assert [v["value"] for v in call["resultValues"]] == [None, None, None, None]
