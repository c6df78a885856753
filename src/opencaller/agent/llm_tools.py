"""The tools the LLM brain offers the model, and what each one does to the call's outcome.

The effects land in the same :class:`~.scripted.BrainResult` fields the scripted brain fills, so the engine
stores an LLM call exactly like a scripted one:

==================== ===================================================================================
``end_call``         the call ends after the goodbye (``ENDED_NORMALLY``)
``schedule_callback`` ``CALL_LATER`` with ``call_later_at``; the call ends after the goodbye
``mark_do_not_call`` ``DO_NOT_CALL`` and ``do_not_call``; the call ends after the goodbye
``book_meeting``     ``meeting_at``; the conversation goes on
``tag``              one of the template's custom tags (only those names); the conversation goes on
``leave_voicemail``  ``VOICEMAIL_DETECTED``: the template's voicemail message is spoken, then the call ends
==================== ===================================================================================

Datetimes from the model are read in the callee's local time zone (what ``local_now`` says) and stored in UTC.
Anything the model gets wrong (unknown tool, arguments that are not JSON, a date that cannot be read or has
passed, a tag the template does not have) is answered with an error the model can act on, never raised.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opencaller.agent.openai_chat import ToolCall
from opencaller.agent.scripted import BrainResult
from opencaller.domain.status import StatusCode

ENDING_TOOLS = frozenset({"end_call", "schedule_callback", "mark_do_not_call", "leave_voicemail"})
"""Tools after which the call ends (once the agent's last words are said)."""
DATETIME_FORMAT_HINT = "YYYY-MM-DDTHH:MM in the callee's local time"

_DATETIME_PARAMETERS = {
    "type": "object",
    "properties": {"datetime": {"type": "string", "description": f"When: {DATETIME_FORMAT_HINT}."}},
    "required": ["datetime"],
}
_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def _tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def tool_specs(tag_names: list[str]) -> list[dict[str, Any]]:
    """The ``tools`` of a chat request; ``tag`` is offered only when the template has custom tags."""
    specs = [
        _tool("end_call", "Hang up after this reply. Say goodbye in the same reply.", _NO_PARAMETERS),
        _tool(
            "schedule_callback",
            "The callee wants to be called back at a given time. The call ends after this reply: confirm the"
            " time and say goodbye.",
            _DATETIME_PARAMETERS,
        ),
        _tool(
            "mark_do_not_call",
            "The callee asks never to be called again. The call ends after this reply: apologise and say goodbye.",
            _NO_PARAMETERS,
        ),
        _tool("book_meeting", "Book the meeting the callee agreed to.", _DATETIME_PARAMETERS),
        _tool(
            "leave_voicemail",
            "You reached an answering machine or voicemail: the prepared message is left and the call ends.",
            _NO_PARAMETERS,
        ),
    ]
    if tag_names:
        specs.append(
            _tool(
                "tag",
                "Mark the call with one of these tags when the conversation is about it.",
                {
                    "type": "object",
                    "properties": {"name": {"type": "string", "enum": list(tag_names)}},
                    "required": ["name"],
                },
            )
        )
    return specs


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call answers the model (JSON text), and whether the call now ends."""

    content: str
    ends_call: bool = False
    voicemail: bool = False


def _ok(ends_call: bool = False, voicemail: bool = False, **facts: Any) -> ToolOutcome:
    return ToolOutcome(json.dumps({"ok": True, **facts}), ends_call=ends_call, voicemail=voicemail)


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(json.dumps({"ok": False, "error": message}))


class CallActions:
    """Runs the model's tool calls against one call's :class:`BrainResult`."""

    def __init__(self, result: BrainResult, tag_names: list[str], local_now: Callable[[], datetime]) -> None:
        """``local_now`` gives the callee's current time, aware, in the callee's time zone."""
        self._result = result
        self._tags = {name.lower(): name for name in tag_names}
        self._now = local_now

    def run(self, call: ToolCall) -> ToolOutcome:
        """Apply one tool call; a mistake of the model is answered with an error, never raised."""
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            return _error("the arguments are not valid JSON")
        if not isinstance(arguments, dict):
            return _error("the arguments must be a JSON object")
        if call.name == "end_call":
            self._set_status(StatusCode.ENDED_NORMALLY, weak=True)
            return _ok(ends_call=True)
        if call.name == "mark_do_not_call":
            self._result.do_not_call = True
            self._result.call_later_at = None
            self._set_status(StatusCode.DO_NOT_CALL)
            return _ok(ends_call=True)
        if call.name == "leave_voicemail":
            self._set_status(StatusCode.VOICEMAIL_DETECTED)
            return _ok(ends_call=True, voicemail=True)
        if call.name in ("schedule_callback", "book_meeting"):
            return self._at_time(call.name, arguments.get("datetime"))
        if call.name == "tag":
            return self._tag(arguments.get("name"))
        return _error(f"there is no tool named {call.name!r}")

    def _at_time(self, name: str, value: Any) -> ToolOutcome:
        now = self._now()
        try:
            moment = read_local_datetime(value, now)
        except ValueError as exc:
            return _error(str(exc))
        moment = moment.astimezone(now.tzinfo)
        if moment <= now:
            return _error(f"{moment.strftime('%Y-%m-%d %H:%M')} has already passed (it is now {_local(now)})")
        if name == "book_meeting":
            self._result.meeting_at = moment.astimezone(UTC)
            return _ok(meetingAt=_local(moment))
        if self._result.do_not_call:
            return _error("the callee asked not to be called again")
        self._result.call_later_at = moment.astimezone(UTC)
        self._set_status(StatusCode.CALL_LATER)
        return _ok(ends_call=True, callbackAt=_local(moment))

    def _tag(self, value: Any) -> ToolOutcome:
        name = self._tags.get(str(value).strip().lower()) if isinstance(value, str) else None
        if name is None:
            return _error(f"unknown tag; the tags are: {', '.join(self._tags.values()) or 'none'}")
        if name not in self._result.tags:
            self._result.tags.append(name)
        return _ok(tag=name)

    def _set_status(self, code: StatusCode, *, weak: bool = False) -> None:
        """Record the outcome; a plain ``end_call`` does not overwrite a more specific one (callback, DNC)."""
        if weak and self._result.status_code != StatusCode.ENDED_NORMALLY.value:
            return
        if self._result.status_code == StatusCode.DO_NOT_CALL.value and code != StatusCode.DO_NOT_CALL:
            return
        self._result.status_code = code.value


def read_local_datetime(value: Any, local_now: datetime) -> datetime:
    """``value`` (ISO 8601 from the model) as an aware datetime; without an offset it is the callee's local time.

    Raises ValueError with a message meant for the model.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"give the datetime as {DATETIME_FORMAT_HINT}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"could not read {value!r} as a datetime; use {DATETIME_FORMAT_HINT}") from None
    if len(text) <= len("YYYY-MM-DD"):
        raise ValueError(f"{value!r} has no time of day; use {DATETIME_FORMAT_HINT}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_now.tzinfo)
    return moment


def _local(moment: datetime) -> str:
    return moment.strftime("%A %Y-%m-%d %H:%M")
