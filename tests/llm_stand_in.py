"""A stand-in for an OpenAI-compatible chat API on loopback: replies as each test scripts, records every request.

It follows OpenAI's documented wire format of ``POST /v1/chat/completions``:

* ``stream: true`` answers ``text/event-stream``: one ``data: <chat.completion.chunk>`` event per delta. The
  first delta carries ``role``; text arrives as ``delta.content`` pieces; each tool call as ``delta.tool_calls``
  pieces, whose ``index`` says which call they belong to: the first piece of a call carries its ``id``, ``type``
  and ``function.name`` with empty ``arguments``, the next ones more of ``function.arguments``. A last chunk with
  an empty delta carries ``finish_reason`` (``stop`` or ``tool_calls``); with ``stream_options.include_usage`` a
  usage chunk with no choices follows; then ``data: [DONE]``.
* without ``stream``, one ``chat.completion`` object whose ``message.content`` is the scripted text (the JSON of an
  extraction asked for with ``response_format``).
* errors are ``{"error": {"message", "type", "param", "code"}}`` with the status; like OpenAI it refuses
  (400) a conversation whose ``tool`` messages do not answer the ``tool_calls`` of the assistant message before
  them, so a brain that keeps a broken history fails its tests.

A test passes a *script*: a function from the request body to an :class:`Answer`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "stand-in-model"
BRAIN_TOOLS = ["end_call", "schedule_callback", "mark_do_not_call", "book_meeting", "leave_voicemail", "tag"]
"""The tools the LLM brain declares to the model, in the order it declares them."""


@dataclass
class ScriptedCall:
    """A tool call the stand-in makes; ``arguments`` as a dict is sent as its JSON text."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)

    @property
    def arguments_text(self) -> str:
        """The arguments as the model would write them."""
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Answer:
    """What the stand-in answers one request with."""

    text: str = ""
    tool_calls: list[ScriptedCall] = field(default_factory=list)
    status: int = 200
    """Anything but 200 answers an error object with this status."""
    piece: int = 5
    """Characters per ``delta.content`` and per ``function.arguments`` piece."""
    broken: bool = False
    """End the stream after the first text piece, without ``finish_reason`` or ``[DONE]`` (a cut connection)."""
    keep_alive: bool = False
    """Send an SSE comment line before each event (as some providers do)."""


Script = Callable[[dict[str, Any]], Answer]


@dataclass
class RecordedRequest:
    """One request as the stand-in received it (header names lower-cased)."""

    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's conversation."""
        messages: list[dict[str, Any]] = self.body.get("messages") or []
        return messages

    @property
    def tool_names(self) -> list[str]:
        """The names of the declared tools."""
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    @property
    def streamed(self) -> bool:
        """Whether the request asked for a stream."""
        return bool(self.body.get("stream"))


class ChatStandIn:
    """The stand-in server, on a free loopback port, in its own thread; use :func:`chat_stand_in`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[RecordedRequest] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)  # connections wait in the backlog until the server accepts: nothing to poll for
        self.port = int(self._sock.getsockname()[1])
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._run, name="chat-stand-in", daemon=True)

    @property
    def base_url(self) -> str:
        """What a template's ``baseUrl`` (or ``OPENCALLER_LLM_BASE_URL``) names."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def streamed_requests(self) -> list[RecordedRequest]:
        """The conversation's requests (not the extraction's)."""
        return [r for r in self.requests if r.streamed]

    @property
    def extraction_requests(self) -> list[RecordedRequest]:
        """The requests that asked for JSON (``response_format``)."""
        return [r for r in self.requests if "response_format" in r.body]

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    async def _completions(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        self.requests.append(RecordedRequest({k.lower(): v for k, v in request.headers.items()}, body))
        problem = _check(body)
        if problem is not None:
            return _error(400, problem)
        answer = self.script(body)
        if answer.status != 200:
            return _error(answer.status, f"scripted failure {answer.status}")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_events(answer, include_usage), media_type="text/event-stream")
        return JSONResponse(_completion(answer))


@contextmanager
def chat_stand_in(script: Script) -> Iterator[ChatStandIn]:
    """A running stand-in for the block."""
    stand_in = ChatStandIn(script)
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def last_user_text(body: dict[str, Any]) -> str:
    """What the callee said last, lower-cased ("" when the conversation ends with a tool answer)."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    return str(last.get("content") or "").lower() if last.get("role") == "user" else ""


def after_tools(body: dict[str, Any]) -> bool:
    """True when the request comes after the brain ran tools (the model speaks about their results now)."""
    messages = body.get("messages") or []
    return bool(messages) and messages[-1].get("role") == "tool"


def tool_answers(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results in the conversation, parsed."""
    return [json.loads(m["content"]) for m in body.get("messages") or [] if m.get("role") == "tool"]


def _check(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse in the conversation, or None."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array."
    if "model" not in body:
        return "you must provide a model parameter"
    open_ids: set[str] = set()
    for message in messages:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in open_ids:
                return "messages with role 'tool' must be a response to a preceding message with 'tool_calls'."
            open_ids.discard(message["tool_call_id"])
            continue
        if open_ids:
            return "An assistant message with 'tool_calls' must be followed by tool messages responding to each."
        if role == "assistant":
            open_ids = {c["id"] for c in message.get("tool_calls") or []}
        elif role not in ("system", "user", "developer"):
            return f"Invalid value: '{role}'."
    return None


def _error(status: int, message: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "system_fingerprint": "fp_standin",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def _events(answer: Answer, include_usage: bool) -> AsyncIterator[str]:
    def event(payload: Any) -> str:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        return (": keep-alive\n\n" if answer.keep_alive else "") + f"data: {data}\n\n"

    yield event(_chunk({"role": "assistant", "content": ""}))
    for n, piece in enumerate(_pieces(answer.text, answer.piece)):
        yield event(_chunk({"content": piece}))
        if answer.broken and n == 0:
            return
    for index, call in enumerate(answer.tool_calls):
        first = {"index": index, "id": f"call_{index}_{call.name}", "type": "function"}
        yield event(_chunk({"tool_calls": [{**first, "function": {"name": call.name, "arguments": ""}}]}))
        for piece in _pieces(call.arguments_text, answer.piece):
            yield event(_chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    yield event(_chunk({}, "tool_calls" if answer.tool_calls else "stop"))
    if include_usage:
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        yield event({**_chunk({}), "choices": [], "usage": usage})
    yield event("[DONE]")


def _completion(answer: Answer) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
