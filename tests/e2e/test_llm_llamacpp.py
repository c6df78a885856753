"""The LLM brain against a real model: llama.cpp's OpenAI-compatible server with SmolLM2-135M, on loopback.

SmolLM2-135M is tiny and says odd things, so these tests check plumbing, not wisdom: the reply is streamed token
by token through the brain's code path with the tools declared (llama.cpp's default chat format accepts the tool
declarations and answers in text), it lands in the model's history, and the post-call extraction comes back as
typed values after the brain falls back from ``json_schema`` (which this server refuses) to JSON mode.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from opencaller.agent.brain import StreamedReply
from opencaller.agent.channel import CallScript, Turn
from opencaller.agent.llm_brain import LlmBrain, LlmDefaults
from opencaller.domain.templates import TemplateDefinition
from tests.llamacpp_server import MODEL_ALIAS, llama_server

NOW = datetime(2025, 3, 6, 14, 0, tzinfo=ZoneInfo("America/New_York"))
COLUMNS = [
    {"columnName": "name", "description": "the callee's full name"},
    {"columnName": "city", "description": "the city the callee lives in"},
    {"columnName": "followUp", "type": "boolean", "description": "agrees to a follow-up call"},
    {"columnName": "seats", "type": "number", "description": "how many seats"},
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with llama_server() as url:
        yield url


class Exchanges:
    """What went over the wire: each request's JSON body with its response's status and content type."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], int, str]] = []
        self._bodies: dict[int, dict[str, Any]] = {}

    async def request(self, request: httpx.Request) -> None:
        self._bodies[id(request)] = json.loads(request.content)

    async def response(self, response: httpx.Response) -> None:
        body = self._bodies.pop(id(response.request))
        self.seen.append((body, response.status_code, response.headers.get("content-type", "")))


@pytest.fixture
async def wire() -> AsyncIterator[tuple[httpx.AsyncClient, Exchanges]]:
    exchanges = Exchanges()
    hooks = {"request": [exchanges.request], "response": [exchanges.response]}
    async with httpx.AsyncClient(event_hooks=hooks) as http:
        yield http, exchanges


def _brain(base_url: str, http: httpx.AsyncClient) -> LlmBrain:
    definition = TemplateDefinition.model_validate(
        {
            "name": "Solar",
            "prompt": "You are Sam, a friendly assistant of Sunny Solar, on a phone call with John.",
            "resultColumns": COLUMNS,
            "brain": {"type": "llm", "model": MODEL_ALIAS, "temperature": 0},
        }
    )
    script = CallScript(definition, "Hi John, this is Sam from Sunny Solar.", prompt=definition.prompt)
    return LlmBrain.for_call(script, lambda: NOW, LlmDefaults(base_url, "unused-default"), http)


async def test_a_reply_streams_from_llama_cpp_through_the_brain(
    base_url: str, wire: tuple[httpx.AsyncClient, Exchanges]
) -> None:
    http, exchanges = wire
    brain = _brain(base_url, http)
    reply = brain.hear("Hello? Who is calling, and what is this about?")
    assert isinstance(reply, StreamedReply)
    pieces = [piece async for piece in reply.chunks]

    text = "".join(pieces)
    assert text.strip(), "the model said nothing"
    assert len(pieces) > 1, "the reply came in one piece, not streamed"
    assert isinstance(reply.ends_call(), bool)
    ((body, status, content_type),) = exchanges.seen
    assert status == 200 and content_type.startswith("text/event-stream")
    assert body["stream"] is True and body["model"] == MODEL_ALIAS
    assert "end_call" in [t["function"]["name"] for t in body["tools"]]
    assert brain.messages[-1] == {"role": "assistant", "content": text}


async def test_extraction_from_llama_cpp_gives_typed_values(
    base_url: str, wire: tuple[httpx.AsyncClient, Exchanges]
) -> None:
    http, exchanges = wire
    brain = _brain(base_url, http)
    turns = [
        Turn("agent", "Hi John, this is Sam from Sunny Solar. May I have your full name?", NOW, NOW),
        Turn("human", "My name is Alex Morgan and I live in New York.", NOW, NOW),
        Turn("agent", "Is it okay if we give you a follow-up call?", NOW, NOW),
        Turn("human", "Yes, a follow-up call is fine.", NOW, NOW),
    ]
    result = await brain.conclude(turns)

    types: dict[str, Any] = {"name": str, "city": str, "followUp": bool, "seats": int | float}
    assert [v["columnName"] for v in result.result_values] == list(types)
    for value in result.result_values:
        kind = types[value["columnName"]]
        assert value["value"] is None or isinstance(value["value"], kind), value
        assert not isinstance(value["value"], bool) or kind is bool
    formats = [(body["response_format"]["type"], status) for body, status, _ in exchanges.seen]
    assert formats == [("json_schema", 500), ("json_object", 200)]
    assert any(v["value"] is not None for v in result.result_values), "JSON mode gave nothing at all"
