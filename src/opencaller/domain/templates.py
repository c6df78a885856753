"""Call templates: the agent's definition, its ``{{variable}}`` placeholders and how they are rendered.

A template is stored as versions: updating a template makes a new version, and every call keeps the version it
was created with, so a call placed tomorrow says what the template said when the call was asked for.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
BUILT_IN_VARIABLES = frozenset({"nameOfHuman", "toPhoneNumber", "toEmailAddress", "fromPhoneNumber"})
_KEY_RE = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WireModel(BaseModel):
    """Base for wire objects: camelCase on the wire, unknown fields ignored, snake_case in Python.

    Text may not contain NUL characters: PostgreSQL cannot store them in a text column.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    @field_validator("*")
    @classmethod
    def _no_nul_characters(cls, value: object) -> object:
        if _has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False  # nested wire models check their own fields


class PromptVariable(WireModel):
    """A ``{{key}}`` the template uses; ``required`` ones must have a value on every call (or a default)."""

    key: Annotated[str, Field(pattern=_KEY_RE, max_length=100)]
    description: str = ""
    required: bool = True
    default_value: str | None = None


class ResultColumnType(StrEnum):
    """How a result value is understood and written."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"


class ResultColumn(WireModel):
    """One value the agent must find out during the call (a column of the results spreadsheet)."""

    column_name: Annotated[str, Field(min_length=1, max_length=100)]
    description: str = ""
    type: ResultColumnType = ResultColumnType.TEXT
    choices: list[str] | None = None
    question: str | None = None

    @model_validator(mode="after")
    def _choices_match_type(self) -> ResultColumn:
        if self.type == ResultColumnType.CHOICE and not self.choices:
            raise ValueError("a 'choice' column needs a non-empty 'choices' list")
        return self


class CustomTag(WireModel):
    """A tag the call earns when the conversation touches one of its keywords."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: str = ""
    keywords: list[str] = Field(default_factory=list)


class ScriptedBrain(WireModel):
    """The deterministic default brain: asks each result column's question in turn."""

    type: Literal["scripted"] = "scripted"


class LlmBrain(WireModel):
    """An OpenAI-compatible chat model drives the conversation."""

    type: Literal["llm"]
    model: str | None = None
    base_url: str | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.3


Brain = Annotated[ScriptedBrain | LlmBrain, Field(discriminator="type")]


class CallingWindow(WireModel):
    """When calls may ring, in the callee's local time: ``start`` to ``end`` on ``days``."""

    start: str = "09:00"
    end: str = "20:00"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM_RE.match(value):
            raise ValueError("must be a 24-hour time 'HH:MM'")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.lower()[:3] for d in value]
        bad = [d for d in days if d not in WEEKDAYS]
        if bad or not days:
            raise ValueError(f"days must be a non-empty list of {', '.join(WEEKDAYS)}")
        return days

    @model_validator(mode="after")
    def _ordered(self) -> CallingWindow:
        if self.start >= self.end:
            raise ValueError("'start' must be before 'end'")
        return self


RetryOutcome = Literal["busy", "noAnswer", "voicemail", "failed"]


def _default_retry_on() -> list[RetryOutcome]:
    return ["busy", "noAnswer"]


class RetryPolicy(WireModel):
    """How unanswered attempts are tried again: up to ``max_attempts`` dials in all."""

    max_attempts: Annotated[int, Field(ge=1, le=10)] = 1
    retry_on: list[RetryOutcome] = Field(default_factory=_default_retry_on)
    delays_minutes: list[Annotated[int, Field(ge=0, le=60 * 24 * 30)]] = Field(default_factory=lambda: [60])


class CallLaterPolicy(WireModel):
    """What to do when the callee asks to be called back."""

    auto_redial: bool = False


class TemplateDefinition(WireModel):
    """Everything a team writes in a call template (one version of it)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    prompt: str = ""
    first_message: str = ""
    prompt_variables: list[PromptVariable] = Field(default_factory=list)
    result_columns: list[ResultColumn] = Field(default_factory=list)
    custom_tags: list[CustomTag] = Field(default_factory=list)
    voicemail_message: str | None = None
    language: str = "en-US"
    brain: Brain = Field(default_factory=ScriptedBrain)
    voice: str | None = None
    calling_window: CallingWindow | None = None
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    call_later: CallLaterPolicy = Field(default_factory=CallLaterPolicy)
    max_duration_seconds: Annotated[int, Field(ge=10, le=4 * 3600)] = 600

    @model_validator(mode="after")
    def _unique_names(self) -> TemplateDefinition:
        for label, names in (
            ("promptVariables", [v.key for v in self.prompt_variables]),
            ("resultColumns", [c.column_name for c in self.result_columns]),
            ("customTags", [t.name for t in self.custom_tags]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label} has duplicate names: {', '.join(dupes)}")
        return self

    def declared_variables(self) -> set[str]:
        """Keys a ``{{placeholder}}`` may name: the declared variables plus the built-in ones."""
        return {v.key for v in self.prompt_variables} | BUILT_IN_VARIABLES

    def unknown_placeholders(self) -> dict[str, list[str]]:
        """Placeholders in ``prompt``/``firstMessage``/``voicemailMessage`` that no variable declares, by field."""
        declared = self.declared_variables()
        report: dict[str, list[str]] = {}
        for field_name, text in (
            ("prompt", self.prompt),
            ("firstMessage", self.first_message),
            ("voicemailMessage", self.voicemail_message or ""),
        ):
            unknown = sorted({name for name in placeholders(text) if name not in declared})
            if unknown:
                report[field_name] = unknown
        return report

    def missing_required(self, values: dict[str, str]) -> list[str]:
        """Required variables that have neither a value in ``values`` nor a default."""
        return [
            v.key
            for v in self.prompt_variables
            if v.required and v.default_value is None and not (values.get(v.key) or "").strip()
        ]

    def variable_values(self, given: dict[str, str]) -> dict[str, str]:
        """The values a call renders with: defaults first, then what the call gave."""
        values = {v.key: v.default_value for v in self.prompt_variables if v.default_value is not None}
        values.update(given)
        return values


def placeholders(text: str) -> list[str]:
    """Names of the ``{{placeholders}}`` in ``text``, in order of appearance."""
    return PLACEHOLDER_RE.findall(text)


def render(text: str, values: dict[str, str]) -> str:
    """Replace each ``{{name}}`` with its value; a name without a value renders as an empty string."""
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), ""), text)
