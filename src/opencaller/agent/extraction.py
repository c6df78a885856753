"""After an LLM-brain call: the template's result columns, read from the transcript by a JSON-schema extraction.

One non-streamed chat request asks for a JSON object whose schema is built from the result columns (every column
present, ``null`` allowed, typed as the column says, choices as an enum), with ``response_format`` of type
``json_schema`` (strict), which OpenAI and the open servers that follow it constrain generation with. A server
that refuses that type (llama-cpp-python's server knows only ``json_object``, with the schema beside it) is asked
once more that way. What comes back is checked again here, because not every server enforces the schema: a column
the model left out, or gave a value of the wrong type, is ``None``. A failed request leaves every column ``None``;
it never fails the call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import structlog

from opencaller.agent.channel import Turn
from opencaller.agent.llm_tools import DATETIME_FORMAT_HINT, read_local_datetime
from opencaller.agent.openai_chat import ChatClient, ChatError
from opencaller.domain.templates import ResultColumn, ResultColumnType

log = structlog.get_logger(__name__)

EXTRACTION_TIMEOUT_SECONDS = 30.0
"""The longest the extraction may take (the call's outcome waits for it); after that the columns stay empty."""
SCHEMA_NAME = "call_results"
REFUSED_FORMAT_STATUSES = frozenset({400, 422, 500})
"""Answers with which servers refuse a ``response_format`` they do not know (llama-cpp-python's is a 500)."""

_JSON_TYPES = {
    ResultColumnType.TEXT: "string",
    ResultColumnType.NUMBER: "number",
    ResultColumnType.BOOLEAN: "boolean",
    ResultColumnType.DATE: "string",
    ResultColumnType.DATETIME: "string",
    ResultColumnType.CHOICE: "string",
}


def result_schema(columns: list[ResultColumn]) -> dict[str, Any]:
    """The JSON schema of the answer: one nullable property per column, all required, nothing else."""
    properties: dict[str, Any] = {}
    for column in columns:
        about = column.description or column.question or column.column_name
        prop: dict[str, Any] = {"type": [_JSON_TYPES[column.type], "null"], "description": about}
        if column.type == ResultColumnType.DATE:
            prop["description"] = f"{about} (as YYYY-MM-DD)"
        elif column.type == ResultColumnType.DATETIME:
            prop["description"] = f"{about} (as {DATETIME_FORMAT_HINT})"
        elif column.type == ResultColumnType.CHOICE:
            prop["enum"] = [*(column.choices or []), None]
        properties[column.column_name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": [c.column_name for c in columns],
        "additionalProperties": False,
    }


def transcript_text(turns: list[Turn]) -> str:
    """The call as lines of ``Agent:`` / ``Callee:`` text, in order."""
    return "\n".join(f"{'Agent' if t.role == 'agent' else 'Callee'}: {t.text}" for t in turns if t.text.strip())


def extraction_request(
    columns: list[ResultColumn], turns: list[Turn], local_now: datetime, *, json_object: bool = False
) -> dict[str, Any]:
    """The chat request body (without model) that asks for the columns' values.

    ``json_object``: the older JSON mode with the schema beside it, for servers without ``json_schema``.
    """
    instructions = (
        "You read the transcript of a phone call and write down what the callee said, as JSON that follows the"
        " schema. Use null for anything the call did not establish; do not guess. Dates and times are in the"
        f" callee's local time; the call took place on {local_now.strftime('%A %Y-%m-%d at %H:%M')}."
    )
    schema = result_schema(columns)
    response_format: dict[str, Any] = (
        {"type": "json_object", "schema": schema}
        if json_object
        else {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}
    )
    return {
        "messages": [
            {"role": "system", "content": instructions},
            {"role": "user", "content": f"Transcript:\n{transcript_text(turns)}"},
        ],
        "temperature": 0,
        "response_format": response_format,
    }


async def extract_results(
    client: ChatClient, columns: list[ResultColumn], turns: list[Turn], local_now: Callable[[], datetime]
) -> list[dict[str, Any]]:
    """``[{"columnName", "value"}]`` for every column, read from ``turns``; ``None`` where not established."""
    if not columns:
        return []
    now = local_now()
    answer: Any = None
    if any(t.role != "agent" and t.text.strip() for t in turns):
        try:
            content = await asyncio.wait_for(_ask(client, columns, turns, now), EXTRACTION_TIMEOUT_SECONDS)
            answer = json.loads(_without_fence(content))
        except (ChatError, TimeoutError, ValueError) as exc:
            log.warning("result extraction failed; the columns stay empty", error=str(exc))
    return typed_values(columns, answer, now)


async def _ask(client: ChatClient, columns: list[ResultColumn], turns: list[Turn], now: datetime) -> str:
    try:
        return await client.complete(extraction_request(columns, turns, now))
    except ChatError as exc:
        if exc.status not in REFUSED_FORMAT_STATUSES:
            raise
        log.info("json_schema refused; asking in JSON mode", error=str(exc))
        return await client.complete(extraction_request(columns, turns, now, json_object=True))


def typed_values(columns: list[ResultColumn], answer: Any, local_now: datetime) -> list[dict[str, Any]]:
    """Each column's value from ``answer`` (the model's JSON), typed as the column says; ``None`` otherwise."""
    found = answer if isinstance(answer, dict) else {}
    return [{"columnName": c.column_name, "value": _typed(c, found.get(c.column_name), local_now)} for c in columns]


def _typed(column: ResultColumn, value: Any, local_now: datetime) -> Any:
    kind = column.type
    if kind == ResultColumnType.BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind == ResultColumnType.NUMBER:
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if kind == ResultColumnType.CHOICE:
        return next((c for c in column.choices or [] if c.lower() == text.lower()), None)
    if kind == ResultColumnType.DATE:
        try:
            return date.fromisoformat(text[:10]).isoformat() if len(text) == 10 else None
        except ValueError:
            return None
    if kind == ResultColumnType.DATETIME:
        try:
            moment = read_local_datetime(text, local_now)
        except ValueError:
            return None
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


def _without_fence(content: str) -> str:
    """The JSON inside a Markdown code fence, which servers that ignore ``response_format`` sometimes add."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
