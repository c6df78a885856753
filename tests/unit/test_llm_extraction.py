"""Result extraction after an LLM call: the JSON schema asked for, and values typed as their columns say.

The requests go to the OpenAI-compatible stand-in on loopback (tests/llm_stand_in.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from opencaller.agent.channel import Turn
from opencaller.agent.extraction import extract_results, result_schema, typed_values
from opencaller.agent.openai_chat import ChatClient, ChatEndpoint
from opencaller.domain.templates import ResultColumn
from tests.llm_stand_in import Answer, chat_stand_in

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 3, 6, 14, 0, tzinfo=NEW_YORK)
COLUMNS = [
    ResultColumn.model_validate(c)
    for c in [
        {"columnName": "name", "description": "full name"},
        {"columnName": "seats", "type": "number"},
        {"columnName": "followUp", "type": "boolean", "question": "May we call again?"},
        {"columnName": "plan", "type": "choice", "choices": ["Basic", "Premium"]},
        {"columnName": "start", "type": "date"},
        {"columnName": "visit", "type": "datetime"},
    ]
]
TURNS = [
    Turn("agent", "Hi, this is Sam. May I have your name?", NOW, NOW),
    Turn("human", "I'm Alex Morgan. We need twelve seats on the premium plan.", NOW, NOW),
]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _values(result: list[dict[str, Any]]) -> dict[str, Any]:
    assert [v["columnName"] for v in result] == [c.column_name for c in COLUMNS]
    return {v["columnName"]: v["value"] for v in result}


def test_the_schema_has_every_column_nullable_typed_and_required() -> None:
    schema = result_schema(COLUMNS)

    assert schema["required"] == ["name", "seats", "followUp", "plan", "start", "visit"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["name"] == {"type": ["string", "null"], "description": "full name"}
    assert props["seats"]["type"] == ["number", "null"]
    assert props["followUp"]["type"] == ["boolean", "null"]
    assert props["followUp"]["description"] == "May we call again?"
    assert props["plan"]["enum"] == ["Basic", "Premium", None]
    assert "YYYY-MM-DD" in props["start"]["description"]
    assert "YYYY-MM-DDTHH:MM" in props["visit"]["description"]


def test_values_are_typed_as_their_columns_say() -> None:
    answer = {
        "name": "  Alex Morgan ",
        "seats": 12,
        "followUp": False,
        "plan": "premium",
        "start": "2025-04-01",
        "visit": "2025-03-07T10:00",
    }
    assert _values(typed_values(COLUMNS, answer, NOW)) == {
        "name": "Alex Morgan",
        "seats": 12,
        "followUp": False,
        "plan": "Premium",
        "start": "2025-04-01",
        "visit": "2025-03-07T15:00:00Z",  # 10:00 in New York, stored in UTC
    }


@pytest.mark.parametrize(
    "answer",
    [
        {"name": 42, "seats": "12", "followUp": "yes", "plan": "Gold", "start": "next week", "visit": "soon"},
        {"name": "", "seats": True, "followUp": 1, "plan": None, "start": "2025-02-30", "visit": 3},
        {},
        ["not", "an", "object"],
        None,
    ],
)
def test_a_wrong_type_or_a_missing_column_is_null(answer: Any) -> None:
    assert set(_values(typed_values(COLUMNS, answer, NOW)).values()) == {None}


async def test_extraction_asks_with_a_strict_json_schema_over_the_transcript(http: httpx.AsyncClient) -> None:
    reply = {"name": "Alex Morgan", "seats": 12, "followUp": None, "plan": "Premium", "start": None, "visit": None}
    with chat_stand_in(lambda body: Answer(text=json.dumps(reply))) as stand_in:
        client = ChatClient(ChatEndpoint(stand_in.base_url, "extractor", "sk-extract"), http)
        values = _values(await extract_results(client, COLUMNS, TURNS, lambda: NOW))

    assert values == reply
    (request,) = stand_in.requests
    assert request.headers["authorization"] == "Bearer sk-extract"
    assert request.body["model"] == "extractor" and request.body["stream"] is False
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"] == result_schema(COLUMNS)
    transcript = request.messages[-1]["content"]
    assert "Agent: Hi, this is Sam. May I have your name?" in transcript
    assert "Callee: I'm Alex Morgan. We need twelve seats on the premium plan." in transcript


async def test_a_server_without_json_schema_is_asked_in_json_mode(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        if body["response_format"]["type"] == "json_schema":
            return Answer(status=500)  # what llama-cpp-python's server answers
        return Answer(text='```json\n{"name": "Alex Morgan", "seats": 12.5}\n```')

    with chat_stand_in(script) as stand_in:
        client = ChatClient(ChatEndpoint(stand_in.base_url, "m"), http)
        values = _values(await extract_results(client, COLUMNS, TURNS, lambda: NOW))

    assert values["name"] == "Alex Morgan" and values["seats"] == 12.5 and values["plan"] is None
    second = stand_in.requests[1].body["response_format"]
    assert second == {"type": "json_object", "schema": result_schema(COLUMNS)}
    assert "authorization" not in stand_in.requests[0].headers  # no key configured, none sent


@pytest.mark.parametrize("answer", [Answer(status=401), Answer(text="Sure! The name is Alex."), Answer(status=503)])
async def test_a_failed_extraction_leaves_every_column_null(http: httpx.AsyncClient, answer: Answer) -> None:
    with chat_stand_in(lambda body: answer) as stand_in:
        client = ChatClient(ChatEndpoint(stand_in.base_url, "m"), http)
        values = _values(await extract_results(client, COLUMNS, TURNS, lambda: NOW))

    assert set(values.values()) == {None}


async def test_an_unreachable_server_leaves_every_column_null(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer()) as stand_in:
        url = stand_in.base_url
    client = ChatClient(ChatEndpoint(url, "m"), http)  # the stand-in has stopped: connection refused
    assert set(_values(await extract_results(client, COLUMNS, TURNS, lambda: NOW)).values()) == {None}


async def test_a_call_where_the_callee_said_nothing_asks_nothing(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(text="{}")) as stand_in:
        client = ChatClient(ChatEndpoint(stand_in.base_url, "m"), http)
        values = await extract_results(client, COLUMNS, TURNS[:1], lambda: NOW)
        assert await extract_results(client, [], TURNS, lambda: NOW) == []

    assert set(_values(values).values()) == {None}
    assert stand_in.requests == []


def test_the_stored_datetime_is_utc() -> None:
    (value,) = typed_values([COLUMNS[5]], {"visit": "2025-07-01T09:15:00"}, NOW)
    assert value["value"] == "2025-07-01T13:15:00Z"
    assert datetime.fromisoformat(value["value"].replace("Z", "+00:00")).tzinfo == UTC
