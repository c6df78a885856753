"""The template form: HTML form fields to and from a template definition's wire form, and errors by field.

Lists of sub-items (variables, result columns, tags) are rows of inputs named ``<list>-<row>-<field>``, so they are
editable without JavaScript: a blank row is ignored, and an "add a row" button posts the form back with one more
blank row (nothing is saved then). Values are handed to the engine as typed; its messages come back by wire path
(``resultColumns.1.choices``) and are shown next to the fields, and all of them in a summary above the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opencaller.domain.templates import WEEKDAYS, ResultColumnType, TemplateDefinition
from opencaller.errors import ErrorDetail

LISTS: dict[str, tuple[str, ...]] = {
    "variables": ("key", "description", "defaultValue"),
    "columns": ("columnName", "type", "question", "description", "choices"),
    "tags": ("name", "description", "keywords"),
}
"""Each list's text fields (plus the ``required`` checkbox of variables)."""
WIRE_LISTS = {"variables": "promptVariables", "columns": "resultColumns", "tags": "customTags"}
SCALARS = (
    "name", "prompt", "firstMessage", "voicemailMessage", "language", "voice", "maxDurationSeconds",
    "brainType", "brainModel", "brainBaseUrl", "brainTemperature",
    "windowStart", "windowEnd", "maxAttempts", "delaysMinutes",
)  # fmt: skip
RETRY_OUTCOMES = ("busy", "noAnswer", "voicemail", "failed")
COLUMN_TYPES = tuple(t.value for t in ResultColumnType)
BLANK_ROWS = 2
MAX_ROWS = 200
"""Rows read per list: more than any template needs, few enough that a crafted post cannot make us loop."""


@dataclass
class TemplateForm:
    """What the form shows: field values as text, the rows of each list, and the errors by wire path."""

    values: dict[str, str]
    window_enabled: bool
    window_days: list[str]
    retry_on: list[str]
    auto_redial: bool
    rows: dict[str, list[dict[str, Any]]]
    errors: dict[str, str] = field(default_factory=dict)
    posted_rows: dict[str, int] = field(default_factory=dict)
    """How many rows of each list the browser sent, blank ones included."""

    def error(self, *paths: str) -> str | None:
        """The first error for any of ``paths`` (used by the template next to each field)."""
        return next((self.errors[p] for p in paths if p in self.errors), None)

    def add_blank_rows(self) -> TemplateForm:
        """Append blank rows to every list, so there is room to add items."""
        for name, fields in LISTS.items():
            self.rows[name].extend(_blank_row(name, fields) for _ in range(BLANK_ROWS))
        return self

    def with_one_more_row(self, name: str) -> TemplateForm:
        """The form as posted (blank rows kept) with one more blank row in list ``name``."""
        for other, fields in LISTS.items():
            wanted = self.posted_rows.get(other, 0) + (1 if other == name else 0)
            while len(self.rows[other]) < min(wanted, MAX_ROWS):
                self.rows[other].append(_blank_row(other, fields))
        return self


def _blank_row(name: str, fields: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(fields, "")
    if name == "variables":
        row["required"] = True
    if name == "columns":
        row["type"] = "text"
    return row


def _text(values: list[str] | None) -> str:
    return ", ".join(values or [])


def form_from_definition(definition: TemplateDefinition | None) -> TemplateForm:
    """The form for an existing definition (or the defaults, for a new template), with blank rows to add to."""
    d = definition or TemplateDefinition(name="New template")
    wire = d.model_dump(mode="json", by_alias=True)
    brain = wire["brain"]
    window = wire.get("callingWindow")
    retry = wire["retryPolicy"]
    values = {
        "name": "" if definition is None else d.name,
        "prompt": d.prompt,
        "firstMessage": d.first_message,
        "voicemailMessage": d.voicemail_message or "",
        "language": d.language,
        "voice": d.voice or "",
        "maxDurationSeconds": str(d.max_duration_seconds),
        "brainType": brain["type"],
        "brainModel": brain.get("model") or "",
        "brainBaseUrl": brain.get("baseUrl") or "",
        "brainTemperature": str(brain.get("temperature", 0.3)),
        "windowStart": (window or {}).get("start", "09:00"),
        "windowEnd": (window or {}).get("end", "20:00"),
        "maxAttempts": str(retry["maxAttempts"]),
        "delaysMinutes": ", ".join(str(m) for m in retry["delaysMinutes"]),
    }
    rows: dict[str, list[dict[str, Any]]] = {
        "variables": [
            {"key": v.key, "description": v.description, "defaultValue": v.default_value or "", "required": v.required}
            for v in d.prompt_variables
        ],
        "columns": [
            {
                "columnName": c.column_name,
                "type": c.type.value,
                "question": c.question or "",
                "description": c.description,
                "choices": _text(c.choices),
            }
            for c in d.result_columns
        ],
        "tags": [{"name": t.name, "description": t.description, "keywords": _text(t.keywords)} for t in d.custom_tags],
    }
    form = TemplateForm(
        values=values,
        window_enabled=window is not None,
        window_days=list((window or {}).get("days", WEEKDAYS[:5])),
        retry_on=list(retry["retryOn"]),
        auto_redial=d.call_later.auto_redial,
        rows=rows,
    )
    return form.add_blank_rows()


def form_from_post(posted: Mapping[str, Any], multi: Mapping[str, list[str]]) -> TemplateForm:
    """The form as the browser sent it; blank rows are dropped (so row ``i`` is the wire list's item ``i``).

    ``posted`` gives one value per name, ``multi`` every value of the checkbox groups."""

    def text(name: str) -> str:
        value = posted.get(name)
        return value.strip() if isinstance(value, str) else ""

    rows: dict[str, list[dict[str, Any]]] = {}
    posted_rows: dict[str, int] = {}
    for name, fields in LISTS.items():
        rows[name] = []
        posted_rows[name] = 0
        for index in range(MAX_ROWS):
            row: dict[str, Any] = {f: text(f"{name}-{index}-{f}") for f in fields}
            if not any(f"{name}-{index}-{f}" in posted for f in fields):
                break
            posted_rows[name] += 1
            if name == "variables":
                row["required"] = f"{name}-{index}-required" in posted
            if name == "columns" and not row["type"]:
                row["type"] = "text"
            if any(row[f] for f in fields if f != "type"):
                rows[name].append(row)
    return TemplateForm(
        values={name: text(name) for name in SCALARS},
        window_enabled="windowEnabled" in posted,
        window_days=[d for d in multi.get("windowDays", []) if d in WEEKDAYS],
        retry_on=[o for o in multi.get("retryOn", []) if o in RETRY_OUTCOMES],
        auto_redial="autoRedial" in posted,
        rows=rows,
        posted_rows=posted_rows,
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _optional(values: dict[str, Any], key: str, text: str) -> None:
    if text:
        values[key] = text


def definition_body(form: TemplateForm) -> dict[str, Any]:
    """The wire form of the definition the form describes, with the values as typed (the engine checks them)."""
    v = form.values
    body: dict[str, Any] = {
        "name": v["name"],
        "prompt": v["prompt"],
        "firstMessage": v["firstMessage"],
        "voicemailMessage": v["voicemailMessage"] or None,
        "language": v["language"] or "en-US",
        "voice": v["voice"] or None,
        "callingWindow": (
            {"start": v["windowStart"], "end": v["windowEnd"], "days": form.window_days}
            if form.window_enabled
            else None
        ),
        "callLater": {"autoRedial": form.auto_redial},
        "promptVariables": [
            {
                "key": row["key"],
                "description": row["description"],
                "required": row["required"],
                "defaultValue": row["defaultValue"] or None,
            }
            for row in form.rows["variables"]
        ],
        "resultColumns": [
            {
                "columnName": row["columnName"],
                "type": row["type"],
                "question": row["question"] or None,
                "description": row["description"],
                "choices": _split(row["choices"]) or None,
            }
            for row in form.rows["columns"]
        ],
        "customTags": [
            {"name": row["name"], "description": row["description"], "keywords": _split(row["keywords"])}
            for row in form.rows["tags"]
        ],
    }
    _optional(body, "maxDurationSeconds", v["maxDurationSeconds"])
    brain: dict[str, Any] = {"type": "llm" if v["brainType"] == "llm" else "scripted"}
    if brain["type"] == "llm":
        brain["model"] = v["brainModel"] or None
        brain["baseUrl"] = v["brainBaseUrl"] or None
        _optional(brain, "temperature", v["brainTemperature"])
    body["brain"] = brain
    retry: dict[str, Any] = {"retryOn": form.retry_on, "delaysMinutes": _split(v["delaysMinutes"])}
    _optional(retry, "maxAttempts", v["maxAttempts"])
    body["retryPolicy"] = retry
    return body


def error_key(path: str) -> str:
    """Where the form shows the engine's error for wire path ``path``: list items by row, a brain field by name
    whatever the brain's type, one message for the whole delays or days list."""
    parts = path.split(".")
    if parts[0] == "brain" and len(parts) > 2 and parts[1] in ("llm", "scripted"):
        parts = ["brain", *parts[2:]]
    if parts[:2] in (["retryPolicy", "delaysMinutes"], ["callingWindow", "days"], ["retryPolicy", "retryOn"]):
        parts = parts[:2]
    return ".".join(parts)


def with_errors(form: TemplateForm, details: list[ErrorDetail]) -> TemplateForm:
    """Attach the engine's ``details`` to the form, the first message per field."""
    for detail in details:
        form.errors.setdefault(error_key(detail.field), detail.message)
    return form
