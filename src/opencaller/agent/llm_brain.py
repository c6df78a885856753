"""The LLM brain: an OpenAI-compatible chat model leads the call, and its tools decide the call's outcome.

The system prompt is the template's rendered ``prompt``, followed by a few facts the model cannot know (it is on
the phone, the callee's local time, what to find out). The opening is the template's rendered ``firstMessage``
(synthesized ahead, like the scripted brain's); when it is empty the model writes the opening too. Each callee
turn is answered with a :class:`~.brain.StreamedReply`: text deltas go to speech as they arrive, so the callee
hears the first sentence while the model still writes the rest. Tool calls (:mod:`.llm_tools`) are run between
rounds; after one that ends the call (``end_call``, ``schedule_callback``, ``mark_do_not_call``,
``leave_voicemail``) the reply that carried it, or one more round without tools, is the goodbye. After the call
the result columns are read from the transcript (:mod:`.extraction`).

A model that fails (unreachable, an error, a broken stream) costs an apology, never the call: the agent asks the
callee to repeat, and after a second failure in a row says goodbye. A reply cut short by the callee's barge-in
stays in the model's history as far as it was written.

The endpoint: the template's ``baseUrl`` and ``model``, else the server's settings. The API key comes only from
the settings and is sent only to the settings' base URL, so a template cannot send the server's key elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog

from opencaller.agent import understanding as u
from opencaller.agent.brain import Speech, StreamedReply
from opencaller.agent.channel import CallScript, Turn
from opencaller.agent.extraction import extract_results
from opencaller.agent.llm_tools import DATETIME_FORMAT_HINT, CallActions, ToolOutcome, tool_specs
from opencaller.agent.openai_chat import ChatClient, ChatEndpoint, ChatError, ToolCall
from opencaller.agent.scripted import BrainResult, Reply
from opencaller.domain import templates
from opencaller.domain.status import StatusCode
from opencaller.settings import Settings

log = structlog.get_logger(__name__)

MAX_REPLY_TOKENS = 300
"""A cap on one reply: a spoken turn is a few sentences; it bounds a model that rambles (time and cost)."""
MAX_ROUNDS = 4
"""Requests per callee turn (each tool round is one): a model that keeps calling tools stops here."""
MAX_FAILURES = 2
"""Failed requests in a row after which the agent gives up politely and ends the call."""
DEFAULT_PROMPT = "You are a friendly, concise phone agent."
PICKED_UP = "(The callee picks up the phone.)"
"""The user message that prompts a model-written opening (chat templates expect a user turn first)."""
GOODBYE = "Thank you for your time. Goodbye."
STILL_THERE = "Are you still there?"
SILENT_GOODBYE = "It seems this is not a good moment. We will be in touch. Goodbye."
OUT_OF_TIME = "I'm sorry, we have run out of time for this call. Goodbye."
SAY_AGAIN = "Sorry, could you say that again?"
TROUBLE_GOODBYE = "I'm sorry, I'm having technical trouble. We will be in touch another time. Goodbye."


@dataclass(frozen=True)
class LlmDefaults:
    """The server's chat API settings, used where a template's brain does not say (and the only key)."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmDefaults:
        """From ``OPENCALLER_LLM_BASE_URL``, ``OPENCALLER_LLM_MODEL`` and ``OPENCALLER_LLM_API_KEY``."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
        return cls(base_url=settings.llm_base_url, model=settings.llm_model, api_key=key or None)

    @classmethod
    def builtin(cls) -> LlmDefaults:
        """The settings' own defaults (no key), for an agent built without settings."""
        fields = Settings.model_fields
        return cls(base_url=str(fields["llm_base_url"].default), model=str(fields["llm_model"].default))

    def endpoint(self, brain: templates.LlmBrain) -> ChatEndpoint:
        """The template's ``baseUrl``/``model`` over these defaults; the key only for the default base URL."""
        base_url = brain.base_url or self.base_url
        key = self.api_key if _same_endpoint(base_url, self.base_url) else None
        return ChatEndpoint(base_url=base_url, model=brain.model or self.model, api_key=key)


def _same_endpoint(a: str, b: str) -> bool:
    try:
        x, y = httpx.URL(a), httpx.URL(b)
    except (httpx.InvalidURL, TypeError):
        return False
    return (x.scheme, x.host, x.port, x.path.rstrip("/")) == (y.scheme, y.host, y.port, y.path.rstrip("/"))


class LlmBrain:
    """One call's conversation led by a chat model (see the module docstring)."""

    def __init__(
        self,
        client: ChatClient,
        definition: templates.TemplateDefinition,
        *,
        prompt: str,
        first_message: str,
        voicemail_message: str,
        local_now: Callable[[], datetime],
        temperature: float = 0.3,
    ) -> None:
        """``local_now`` gives the callee's current time, aware, in the callee's time zone."""
        self._client = client
        self._definition = definition
        self._first_message = first_message.strip()
        self._voicemail_message = voicemail_message.strip()
        self._now = local_now
        self._temperature = temperature
        self._system = {"role": "system", "content": _system_prompt(prompt, definition, local_now())}
        self._history: list[dict[str, Any]] = []
        if self._first_message:
            self._history.append({"role": "assistant", "content": self._first_message})
        tags = [t.name for t in definition.custom_tags]
        self._tools = tool_specs(tags)
        self.result = BrainResult()
        self._actions = CallActions(self.result, tags, local_now)
        self.finished = False
        """The call's end is decided (a tool ended it, or the agent gave up): the next complete reply is the last."""
        self._done = False
        """The last words have been written in full: nothing more is said."""
        self._failures = 0
        self._silences = 0

    @classmethod
    def for_call(
        cls, script: CallScript, local_now: Callable[[], datetime], defaults: LlmDefaults, http: httpx.AsyncClient
    ) -> LlmBrain:
        """The brain of a call whose template's brain is ``llm``."""
        config = script.definition.brain
        if not isinstance(config, templates.LlmBrain):
            raise ValueError("the template's brain is not 'llm'")
        return cls(
            ChatClient(defaults.endpoint(config), http),
            script.definition,
            prompt=script.prompt,
            first_message=script.first_message,
            voicemail_message=script.voicemail_message,
            local_now=local_now,
            temperature=config.temperature,
        )

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation as the model sees it: the system prompt, then every turn so far."""
        return [self._system, *self._history]

    # ---- the brain protocol ------------------------------------------------------------------------------------

    def opening(self) -> Speech:
        """The rendered first message; the model's own opening when the template has none."""
        if self._first_message:
            return Reply(self._first_message)
        return self._streamed(self._opening())

    def hear_hello(self, text: str) -> Speech | None:
        """The pick-up "hello" joins the history; only a request not to be called (or to be called later) is
        answered at once, over the opening."""
        if not text.strip() or self._done:
            return None
        self._add_user(text)
        if u.wants_no_more_calls(text) or u.wants_call_later(text):
            return self._streamed(self._respond())
        return None

    def hear(self, text: str) -> Speech | None:
        """The model's reply to one callee turn (after a goodbye cut short, the goodbye again)."""
        if not text.strip() or self._done:
            return None
        self._silences = 0
        self._add_user(text)
        return self._streamed(self._respond())

    def complete_answer(self, text: str) -> bool:
        """Never: the model, not a rule, judges answers, so each turn waits the usual pause."""
        return False

    def on_silence(self) -> Speech | None:
        """Ask once whether the callee is still there, then say goodbye."""
        if self._done:
            return None
        self._silences += 1
        if self._silences == 1:
            self._history.append({"role": "assistant", "content": STILL_THERE})
            return Reply(STILL_THERE)
        self._history.append({"role": "assistant", "content": SILENT_GOODBYE})
        self.finished = self._done = True
        return Reply(SILENT_GOODBYE, end=True)

    def out_of_time(self) -> Speech:
        """A short goodbye (``MAX_DURATION_REACHED``)."""
        self.finished = self._done = True
        self.result.status_code = StatusCode.MAX_DURATION_REACHED.value
        return Reply(OUT_OF_TIME, end=True)

    async def conclude(self, turns: list[Turn]) -> BrainResult:
        """The outcome the tools set, with the result columns read from the transcript."""
        columns = list(self._definition.result_columns)
        self.result.result_values = await extract_results(self._client, columns, turns, self._now)
        return self.result

    # ---- replies -------------------------------------------------------------------------------------------------

    def _streamed(self, chunks: AsyncGenerator[str, None]) -> StreamedReply:
        return StreamedReply(chunks, lambda: self._done)

    async def _opening(self) -> AsyncGenerator[str, None]:
        self._add_user(PICKED_UP)
        async for text in self._respond():
            yield text

    async def _respond(self) -> AsyncGenerator[str, None]:
        """Stream the model's reply; run its tools and let it go on after them, up to :data:`MAX_ROUNDS`."""
        for _ in range(MAX_ROUNDS):
            said: list[str] = []
            calls: list[ToolCall] = []
            try:
                async for event in self._client.stream(self._request()):
                    if isinstance(event, ToolCall):
                        calls.append(event)
                    else:
                        said.append(event)
                        yield event
            except ChatError as exc:
                self._remember("".join(said), [])
                async for text in self._trouble(exc):
                    yield text
                return
            except BaseException:
                self._remember("".join(said), [])  # cut short (barge-in, hang-up): keep what was written
                raise
            self._failures = 0
            text = "".join(said)
            self._remember(text, calls)
            outcomes = [self._run(call) for call in calls]
            if any(o.voicemail for o in outcomes) and self._voicemail_message:
                self._history.append({"role": "assistant", "content": self._voicemail_message})
                yield f" {self._voicemail_message}" if text else self._voicemail_message
                self._done = True
                return
            if self.finished and (text.strip() or not calls):
                if not text.strip():
                    self._history.append({"role": "assistant", "content": GOODBYE})
                    yield GOODBYE
                self._done = True
                return
            if not calls:
                return
        log.warning("the model kept calling tools; its turn ends here", rounds=MAX_ROUNDS)

    async def _trouble(self, error: ChatError) -> AsyncGenerator[str, None]:
        self._failures += 1
        log.error("the chat model failed", error=str(error), failures=self._failures)
        self.finished = self.finished or self._failures >= MAX_FAILURES
        text = TROUBLE_GOODBYE if self.finished else SAY_AGAIN
        self._history.append({"role": "assistant", "content": text})
        yield text
        self._done = self.finished

    def _request(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "temperature": self._temperature,
            "max_tokens": MAX_REPLY_TOKENS,
            "tools": self._tools,
            "tool_choice": "none" if self.finished else "auto",
        }

    def _run(self, call: ToolCall) -> ToolOutcome:
        outcome = self._actions.run(call)
        self.finished = self.finished or outcome.ends_call
        log.info("tool called", tool=call.name, arguments=call.arguments, answer=outcome.content)
        self._history.append({"role": "tool", "tool_call_id": call.id, "content": outcome.content})
        return outcome

    def _remember(self, text: str, calls: list[ToolCall]) -> None:
        """Add the model's turn to the history (with its tool calls, which the tool answers must follow)."""
        if calls:
            self._history.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in calls
                    ],
                }
            )
        elif text:
            self._history.append({"role": "assistant", "content": text})

    def _add_user(self, text: str) -> None:
        """Add what the callee said; words right after earlier words (the hello, a split answer) join them."""
        last = self._history[-1] if self._history else None
        if last is not None and last["role"] == "user":
            last["content"] = f"{last['content']} {text.strip()}"
        else:
            self._history.append({"role": "user", "content": text.strip()})


def _system_prompt(prompt: str, definition: templates.TemplateDefinition, now: datetime) -> str:
    """The template's rendered prompt, then what the model needs to know about this call."""
    facts = [
        "You are on a phone call: what you write is spoken aloud, so answer in one to three short sentences of"
        " plain speech, without lists, markdown or emoji.",
        f"The callee's local time is {now.strftime('%A %Y-%m-%d %H:%M')} ({now.tzinfo})."
        f" Give every datetime a tool takes as {DATETIME_FORMAT_HINT}.",
        "When the conversation is over, say goodbye and call end_call in the same reply.",
    ]
    if definition.result_columns:
        wanted = "; ".join(
            f"{c.column_name}" + (f" ({c.description})" if c.description else "") for c in definition.result_columns
        )
        facts.append(f"Find out during the call: {wanted}.")
    if definition.custom_tags:
        facts.append(
            "Tag the call when it touches one of: "
            + json.dumps({t.name: t.description or ", ".join(t.keywords) for t in definition.custom_tags})
            + "."
        )
    return f"{prompt.strip() or DEFAULT_PROMPT}\n\n" + "\n".join(facts)
