"""A small client of the OpenAI-compatible chat API (``POST {baseUrl}/chat/completions``), over httpx.

The LLM brain needs two calls: a streamed reply that may call tools, and a non-streamed JSON extraction with
``response_format``. Every server users run speaks this wire format (OpenAI, Groq, vLLM, Ollama, llama.cpp's
server), so one client reaches all of them.

Why not Pipecat's ``OpenAILLMService``: in our pipeline the :class:`~.brain_processor.BrainProcessor` already
decides who speaks when (greeting timing, voicemail and phone-menu detection, silence prompts), and tool effects
must end the call only after the goodbye has been played and land in the call's outcome. With the service in the
pipeline those decisions would be split between two processors talking through context frames and function-call
callbacks; with this client the brain is plain async code that streams text to the processor, and is unit tested
without a pipeline. Why not the ``openai`` SDK: streaming SSE and accumulating tool-call deltas is ~150 lines,
httpx is already a dependency, and the SDK would be a second HTTP stack (and an optional extra) for two requests.
The stream is still sentence-streamed to speech: the processor pushes each text delta into Pipecat's TTS, which
speaks each sentence as soon as it is complete.

The API key is sent only in the ``Authorization`` header and never logged or put in an error message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

CHAT_PATH = "/chat/completions"
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
"""Per operation: a model that stays silent for 30 s mid-reply has failed, as far as a phone call is concerned."""
ERROR_BODY_CHARS = 300
"""How much of an error answer is kept in the error message (enough for the server's own explanation)."""


class ChatError(Exception):
    """The chat API failed: refused the request, broke the connection, or answered something unreadable."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status when the server answered with an error (None for other failures)."""


@dataclass(frozen=True)
class ChatEndpoint:
    """Where the chat API is, which model to ask, and the key (if any) to send there."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The chat-completions URL under :attr:`base_url` (which ends before ``/chat/completions``)."""
        return self.base_url.rstrip("/") + CHAT_PATH

    def headers(self) -> dict[str, str]:
        """Request headers, with the key as a bearer token when there is one."""
        headers = {"Accept": "text/event-stream, application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChatClient:
    """Streams chat completions and asks for JSON answers from one :class:`ChatEndpoint`."""

    def __init__(self, endpoint: ChatEndpoint, http: httpx.AsyncClient) -> None:
        self.endpoint = endpoint
        self._http = http

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[str | ToolCall]:
        """Send ``body`` with ``stream: true``; yield text deltas as they arrive, then the completed tool calls.

        Tool calls arrive in pieces (their ``index`` says which call a piece belongs to; the first piece carries
        the id and name, later ones more of the arguments); they are yielded whole, in index order, once the
        stream is done.
        """
        request = {**body, "model": self.endpoint.model, "stream": True}
        calls: dict[int, _PartialCall] = {}
        finished = False
        try:
            async with self._http.stream(
                "POST", self.endpoint.url, json=request, headers=self.endpoint.headers(), timeout=TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    said = await _read_some(response)
                    raise ChatError(_error_text(response.status_code, said), status=response.status_code)
                async for data in _sse_data(response.aiter_lines()):
                    if data.strip() == "[DONE]":
                        finished = True
                        break
                    chunk = _json(data)
                    if "error" in chunk:
                        raise ChatError(f"the chat API reported an error mid-stream: {_message(chunk)}")
                    for choice in chunk.get("choices") or []:
                        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                            continue
                        delta = choice.get("delta") or {}
                        text = delta.get("content")
                        if isinstance(text, str) and text:
                            yield text
                        for piece in delta.get("tool_calls") or []:
                            _add_piece(calls, piece)
                        if choice.get("finish_reason"):
                            finished = True
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ChatError(f"the chat API could not be reached: {type(exc).__name__}") from exc
        if not finished:
            raise ChatError("the chat API's stream ended before the reply did")
        for index in sorted(calls):
            partial = calls[index]
            if partial.name:
                yield ToolCall(
                    id=partial.id or f"call_{index}", name=partial.name, arguments="".join(partial.arguments)
                )

    async def complete(self, body: dict[str, Any]) -> str:
        """Send ``body`` without streaming and return the reply's text (``choices[0].message.content``)."""
        request = {**body, "model": self.endpoint.model, "stream": False}
        try:
            response = await self._http.post(
                self.endpoint.url, json=request, headers=self.endpoint.headers(), timeout=TIMEOUT
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ChatError(f"the chat API could not be reached: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            said = response.text[:ERROR_BODY_CHARS]
            raise ChatError(_error_text(response.status_code, said), status=response.status_code)
        answer = _json(response.text)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ChatError("the chat API's answer has no message") from exc
        if not isinstance(content, str):
            raise ChatError("the chat API's answer has no text")
        return content


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (comments and other fields skipped; multi-line data joined)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # a comment: some providers send them as keep-alives
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _add_piece(calls: dict[int, _PartialCall], piece: Any) -> None:
    if not isinstance(piece, dict):
        return
    index = piece.get("index", 0)
    if not isinstance(index, int):
        return
    partial = calls.setdefault(index, _PartialCall())
    if isinstance(piece.get("id"), str) and piece["id"]:
        partial.id = piece["id"]
    function = piece.get("function") or {}
    if isinstance(function.get("name"), str) and function["name"] and not partial.name:
        partial.name = function["name"]
    if isinstance(function.get("arguments"), str):
        partial.arguments.append(function["arguments"])


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ChatError("the chat API answered something that is not JSON") from exc
    if not isinstance(value, dict):
        raise ChatError("the chat API answered JSON that is not an object")
    return value


async def _read_some(response: httpx.Response) -> str:
    body = b""
    async for part in response.aiter_bytes():
        body += part
        if len(body) >= ERROR_BODY_CHARS:
            break
    return body[:ERROR_BODY_CHARS].decode("utf-8", "replace")


def _message(answer: dict[str, Any]) -> str:
    error = answer.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:ERROR_BODY_CHARS]
    return str(error)[:ERROR_BODY_CHARS]


def _error_text(status: int, body: str) -> str:
    try:
        detail = _message(json.loads(body))
    except (ValueError, AttributeError):
        detail = body.strip()
    return f"the chat API answered {status}: {detail}"
