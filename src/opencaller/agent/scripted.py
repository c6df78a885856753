"""The scripted brain: a deterministic conversation driven by the template's result columns.

It greets with the rendered ``firstMessage``, asks each result column's ``question`` in turn, reads the answer by
the column's type, asks once more when unsure, confirms what it wrote down and says goodbye. At any point it
understands "call me back tomorrow at 5" (``CALL_LATER``), "don't call me again" (``DO_NOT_CALL``), a meeting
proposal (``fixedMeetingTime``) and the template's custom-tag keywords.

It is pure: text in, :class:`Reply` out, with the callee's local clock injected, so every behaviour is unit
tested without audio. The Pipecat pipeline (:mod:`.pipeline`) only feeds it transcripts and speaks its replies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opencaller.agent import understanding as u
from opencaller.agent.channel import Turn
from opencaller.domain.status import StatusCode
from opencaller.domain.templates import ResultColumn, ResultColumnType, TemplateDefinition


@dataclass(frozen=True)
class Reply:
    """What the agent says next, and whether the call ends after it has been said."""

    say: str
    end: bool = False


@dataclass
class BrainResult:
    """What the conversation established, in the shape the engine stores."""

    status_code: str = StatusCode.ENDED_NORMALLY.value
    result_values: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    call_later_at: datetime | None = None
    do_not_call: bool = False
    meeting_at: datetime | None = None


def _default_question(column: ResultColumn) -> str:
    label = column.description or column.column_name
    if column.type == ResultColumnType.CHOICE and column.choices:
        return f"What is your {label}: {', '.join(column.choices[:-1])} or {column.choices[-1]}?"
    return f"Could you tell me your {label}?"


class ScriptedBrain:
    """One call's scripted conversation; call :meth:`opening` once, then :meth:`hear` for each callee turn."""

    def __init__(
        self, definition: TemplateDefinition, first_message: str, *, local_now: Callable[[], datetime]
    ) -> None:
        """``local_now`` gives the callee's current time, aware, in the callee's time zone."""
        self._definition = definition
        self._first_message = first_message.strip()
        self._now = local_now
        self._columns = list(definition.result_columns)
        self._index = 0
        self._retried = False
        self._unclear = ""
        self._values: dict[str, Any] = {}
        self._asking_callback_time = False
        self._tags = {t.name: t.keywords for t in definition.custom_tags}
        self.result = BrainResult()
        self.finished = False
        self._silences = 0

    def opening(self) -> Reply:
        """The first thing said: the greeting and the first question."""
        greeting = self._first_message or "Hello, this is an automated call."
        if not self._columns:
            return Reply(f"{greeting} Thank you for your time. Goodbye.", end=True)
        return Reply(f"{greeting} {self._question()}")

    def hear_hello(self, text: str) -> Reply | None:
        """React to what the callee said on picking up, over the opening: only a request not to be called, or to
        be called later, needs an answer; a plain "Hello?" does not (the opening already answers it)."""
        if u.wants_no_more_calls(text) or u.wants_call_later(text):
            return self.hear(text)
        return None

    def complete_answer(self, text: str) -> bool:
        """True when ``text`` already says all the current question needs, so the callee's turn can end at once
        instead of after the usual pause; an answer still missing its value (an email cut at a comma) waits."""
        if self.finished or u.wants_no_more_calls(text):
            return not self.finished
        if self._asking_callback_time or u.wants_call_later(text):
            return u.read_when(text, self._now()) is not None
        if self._index >= len(self._columns):
            return False
        column = self._columns[self._index]
        if self._read(column, text) is None:
            return False
        return not (column.type == ResultColumnType.TEXT and u.trails_off(text))

    def hear(self, text: str) -> Reply | None:
        """React to one callee turn; None when there is nothing to say (empty text, or the call is over)."""
        if self.finished or not text.strip():
            return None
        self._silences = 0
        for tag in u.tags_heard(text, self._tags):
            if tag not in self.result.tags:
                self.result.tags.append(tag)
        if u.wants_no_more_calls(text):
            self.result.do_not_call = True
            return self._end(
                StatusCode.DO_NOT_CALL,
                "I understand. I will make sure we don't call you again. Sorry for the trouble. Goodbye.",
            )
        if self._asking_callback_time or u.wants_call_later(text):
            return self._call_later(text)
        prefix = ""
        if u.mentions_meeting(text):
            moment = u.read_when(text, self._now())
            if moment is not None:
                self.result.meeting_at = moment.astimezone(UTC)
                prefix = f"Great, I have noted the meeting for {u.spoken_when(moment, self._now())}. "
                if self._index >= len(self._columns) or self._current_answer_missing(text):
                    return self._after_answer(prefix)
        return self._answer(text, prefix)

    # ---- the question loop ---------------------------------------------------------------------------------

    def _question(self) -> str:
        column = self._columns[self._index]
        return (column.question or _default_question(column)).strip()

    def _current_answer_missing(self, text: str) -> bool:
        return self._read(self._columns[self._index], text) is None

    def _answer(self, text: str, prefix: str) -> Reply:
        column = self._columns[self._index]
        value = self._read(column, text)
        if value is None and self._unclear:  # an answer split by a pause: read both halves together
            value = self._read(column, f"{self._unclear} {text}")
        self._unclear = text if value is None else ""
        if value is None and not self._retried:
            self._retried = True
            return Reply(f"{prefix}Sorry, I didn't quite catch that. {self._question()}")
        if value is not None:
            self._values[column.column_name] = value
        return self._after_answer(prefix)

    def _after_answer(self, prefix: str) -> Reply:
        self._index += 1
        self._unclear = ""
        self._retried = False
        if self._index < len(self._columns):
            return Reply(f"{prefix}Thank you. {self._question()}")
        return self._end(StatusCode.ENDED_NORMALLY, f"{prefix}{self._confirmation()}")

    def _read(self, column: ResultColumn, text: str) -> Any:
        """The column's value in ``text``, typed as the column says; None when unsure."""
        if column.type == ResultColumnType.BOOLEAN:
            return u.read_yes_no(text)
        if column.type == ResultColumnType.NUMBER:
            return u.read_number(text)
        if column.type == ResultColumnType.CHOICE:
            return u.read_choice(text, column.choices or [])
        if column.type in (ResultColumnType.DATE, ResultColumnType.DATETIME):
            moment = u.read_when(text, self._now())
            if moment is None:
                return None
            if column.type == ResultColumnType.DATE:
                return moment.date().isoformat()
            return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
        about = f"{column.column_name} {column.description} {column.question or ''}".lower()
        if "mail" in about:
            return u.read_email(text)
        answer = u.strip_lead_in(text)
        return None if u.is_filler(answer) else answer

    def _confirmation(self) -> str:
        parts = []
        for column in self._columns:
            if column.column_name not in self._values:
                continue
            value = self._values[column.column_name]
            if isinstance(value, bool):
                shown = "yes" if value else "no"
            elif isinstance(value, str) and "@" in value:
                shown = u.spoken_email(value)
            else:
                shown = str(value)
            parts.append(f"{column.description or column.column_name}: {shown}")
        summary = f"Let me confirm. I have {'; '.join(parts)}. " if parts else ""
        return f"{summary}Thank you for your time, have a great day. Goodbye."

    # ---- ending ----------------------------------------------------------------------------------------------

    def on_silence(self) -> Reply | None:
        """The callee said nothing for a while after the agent spoke: ask once, then say goodbye."""
        if self.finished:
            return None
        self._silences += 1
        if self._silences == 1:
            return Reply("Are you still there?")
        return self._end(StatusCode.ENDED_NORMALLY, "It seems this is not a good moment. We will be in touch. Goodbye.")

    def out_of_time(self) -> Reply:
        """The call reached the template's maximum duration: a short goodbye (``MAX_DURATION_REACHED``)."""
        return self._end(StatusCode.MAX_DURATION_REACHED, "I'm sorry, we have run out of time for this call. Goodbye.")

    def _call_later(self, text: str) -> Reply:
        moment = u.read_when(text, self._now())
        if moment is None and not self._asking_callback_time:
            self._asking_callback_time = True
            return Reply("Of course. When would be a good time to call you back?")
        self._asking_callback_time = False
        if moment is None:
            return self._end(StatusCode.CALL_LATER, "No problem, we will try again another time. Goodbye.")
        self.result.call_later_at = moment.astimezone(UTC)
        when = u.spoken_when(moment, self._now())
        return self._end(StatusCode.CALL_LATER, f"No problem. I will call you back {when}. Goodbye.")

    def _end(self, code: StatusCode, say: str) -> Reply:
        self.finished = True
        self.result.status_code = code.value
        self.result.result_values = [
            {"columnName": c.column_name, "value": self._values.get(c.column_name)} for c in self._columns
        ]
        return Reply(say, end=True)

    async def conclude(self, turns: list[Turn]) -> BrainResult:
        """The outcome once the call is over: the scripted brain read every answer as it came (``turns`` unused)."""
        return self.snapshot()

    def snapshot(self) -> BrainResult:
        """The result so far (also when the callee hung up mid-conversation)."""
        if not self.finished:
            self.result.result_values = [
                {"columnName": c.column_name, "value": self._values.get(c.column_name)} for c in self._columns
            ]
        return self.result
