"""CSV exports: a lead list's results (its original columns, then what each call came to) and the calls list.

Both stream: the calls are read a page at a time (keyset on the time-ordered id, each page in its own short read
session), so an export of 100,000 calls never holds them all and never keeps a transaction open while the client
reads. The 404 for a file that is not the team's is raised before the first byte, by :func:`file_results`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from opencaller.domain.templates import TemplateDefinition
from opencaller.engine.calls import CallFilters, filtered_calls
from opencaller.engine.files import get_file
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.templates import load_definition
from opencaller.engine.views import phone_call_view
from opencaller.store.db import Database
from opencaller.store.models import LeadFile, PhoneCall

PAGE_ROWS = 1000
CALL_COLUMNS = ("status", "statusCode", "attempts", "callStartedAt", "callEndedAt", "callDuration")
TAIL_COLUMNS = ("tags", "fixedMeetingTime", "recordingUrl")
EXPORT_COLUMNS = (
    "_id", "createdAt", "callTemplateId", "fileId", "fileName", "callOrigin", "nameOfHuman", "toPhoneNumber",
    "toEmailAddress", "fromPhoneNumber", "status", "statusCode", "attempts", "callTriggeredAt", "callStartedAt",
    "callEndedAt", "callDuration", "promptVariableValues", "resultValues", "tags", "fixedMeetingTime", "recordingUrl",
)  # fmt: skip


@dataclass(frozen=True)
class CsvExport:
    """An export ready to stream: the download's file name and its text, a chunk of lines at a time."""

    file_name: str
    lines: AsyncIterator[str]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_text(rows: list[list[str]], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _unique(names: list[str], taken: set[str]) -> list[str]:
    """The appended column names, renamed ``name (call)`` where the original file already has that name."""
    result = []
    for name in names:
        while name in taken:
            name = f"{name} (call)"
        taken.add(name)
        result.append(name)
    return result


def results_header(lead_file: LeadFile, definition: TemplateDefinition) -> list[str]:
    """The file's own columns, then the call's status columns, the template's result columns and the rest."""
    original = [str(name) for name in lead_file.header]
    appended = [*CALL_COLUMNS, *(c.column_name for c in definition.result_columns), *TAIL_COLUMNS]
    return original + _unique(appended, set(original))


def _outcome(view: dict[str, Any]) -> dict[str, str]:
    extra = view.get("statusExtraInfo") or {}
    return {
        "status": _text(view["status"]),
        "statusCode": _text(extra.get("statusCode")),
        "attempts": str(len(view["attempts"])),
        "tags": ", ".join(str(tag) for tag in view.get("customTagsHitOnCall") or []),
    }


def results_line(
    lead_file: LeadFile, definition: TemplateDefinition, call: PhoneCall, links: RecordingLinks | None = None
) -> list[str]:
    """One results row: the row's original values, then what its call came to (empty where nothing is known).

    ``recordingUrl`` is the same signed link the API shows (empty without ``links``)."""
    width = len(lead_file.header)
    original = [_text(v) for v in (call.file_row or [])][:width]
    original += [""] * (width - len(original))
    view = phone_call_view(call, links=links)
    outcome = _outcome(view)
    results = {str(r.get("columnName")): _text(r.get("value")) for r in view.get("resultValues") or []}
    return [
        *original,
        outcome["status"],
        outcome["statusCode"],
        outcome["attempts"],
        _text(view["callStartedAt"]),
        _text(view["callEndedAt"]),
        _text(view["callDuration"]),
        *(results.get(column.column_name, "") for column in definition.result_columns),
        outcome["tags"],
        _text(view["fixedMeetingTime"]),
        _text(view["recordingUrl"]),
    ]


def export_line(call: PhoneCall, links: RecordingLinks | None = None) -> list[str]:
    """One row of the calls export; prompt variables and result values as JSON, the recording as a signed link."""
    view = phone_call_view(call, links=links)
    outcome = _outcome(view)
    values: dict[str, str] = {name: _text(view.get(name)) for name in EXPORT_COLUMNS if name in view}
    values.update(outcome)
    values["promptVariableValues"] = json.dumps(view["promptVariableValues"] or [], ensure_ascii=False)
    values["resultValues"] = json.dumps(view["resultValues"] or [], ensure_ascii=False)
    return [values.get(name, "") for name in EXPORT_COLUMNS]


async def _pages(db: Database, query: Select[PhoneCall]) -> AsyncIterator[list[PhoneCall]]:
    """The query's calls, oldest first, a page at a time, each page read in its own short session."""
    after: str | None = None
    while True:
        page_query = query if after is None else query.where(PhoneCall.id > after)
        async with db.read() as session:
            calls = list((await session.scalars(page_query.order_by(PhoneCall.id).limit(PAGE_ROWS))).all())
        if not calls:
            return
        yield calls
        after = calls[-1].id


async def file_results(db: Database, team_id: str, file_id: str, *, links: RecordingLinks | None = None) -> CsvExport:
    """The results spreadsheet of one of the team's files, in the file's own delimiter and row order."""
    async with db.read() as session:
        lead_file = await get_file(session, team_id, file_id)
        definition = await load_definition(session, lead_file.call_template_id, lead_file.template_version)
    query = select(PhoneCall).where(PhoneCall.team_id == team_id, PhoneCall.file_id == lead_file.id)
    stem = lead_file.file_name.rsplit(".", 1)[0] or "leads"
    return CsvExport(
        file_name=f"{stem}-results.csv",
        lines=_stream(
            results_header(lead_file, definition),
            _pages(db, query),
            lambda call: results_line(lead_file, definition, call, links),
            lead_file.delimiter,
        ),
    )


def calls_export(db: Database, team_id: str, filters: CallFilters, *, links: RecordingLinks | None = None) -> CsvExport:
    """Every call of the team that passes the list filters, oldest first."""
    return CsvExport(
        file_name="phone-calls.csv",
        lines=_stream(
            list(EXPORT_COLUMNS),
            _pages(db, filtered_calls(team_id, filters)),
            lambda call: export_line(call, links),
            ",",
        ),
    )


async def _stream(
    header: list[str],
    pages: AsyncIterator[list[PhoneCall]],
    line: Callable[[PhoneCall], list[str]],
    delimiter: str,
) -> AsyncIterator[str]:
    yield _csv_text([header], delimiter)
    async for calls in pages:
        yield _csv_text([line(call) for call in calls], delimiter)
