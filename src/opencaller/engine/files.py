"""Lead lists: import a CSV file as calls (every row checked, the good ones queued), read, list and cancel files.

An import runs inside the caller's one transaction: the file is read a chunk of rows at a time (parsing and row
checks in a thread), each chunk's numbers are checked against the do-not-call list and the calls already queued
for the template, and the accepted rows are inserted in bulk. A failure anywhere rolls everything back, so a file
is imported whole or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, cast

import phonenumbers
from sqlalchemy import ColumnElement, String, Table, any_, bindparam, exists, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from opencaller.domain.calls import PhoneCallCreate
from opencaller.domain.clock import format_timestamp, utc_now
from opencaller.domain.ids import is_valid_id, new_id
from opencaller.domain.status import CallStatus, StatusCode
from opencaller.engine.calls import CallLookups, CallOrigin, caller_number, insert_calls, load_lookups
from opencaller.engine.lead_columns import RowChecker, resolve_columns
from opencaller.engine.lead_csv import LeadCsvReader, bad_file
from opencaller.engine.pagination import Page, paginate
from opencaller.engine.webhook_events import record_created_calls, record_status_event
from opencaller.errors import ErrorDetail, NotFound, ValidationFailed
from opencaller.store.models import CallTemplate, DoNotCallEntry, LeadFile, PhoneCall, WebhookSubscription

CHUNK_ROWS = 1000
MAX_STORED_REJECTIONS = 1000
FILE_ORIGIN = "file"

ProgressCallback = Callable[[int, int], None]
"""Called after each chunk with (data rows read so far, bytes of the file read so far)."""


@dataclass(frozen=True)
class ImportOptions:
    """What the uploader says about the file: its template, which columns are what, and call settings."""

    call_template_id: str
    file_name: str
    phone_column: str | None = None
    name_column: str | None = None
    email_column: str | None = None
    default_region: str | None = None
    phone_number_id: str | None = None
    call_delayed_until: datetime | None = None
    variable_columns: dict[str, str] = field(default_factory=dict)


@dataclass
class _Tally:
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, row: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_STORED_REJECTIONS:
            self.rejections.append({"row": row, "reason": reason})


async def import_file(
    session: AsyncSession,
    team_id: str,
    raw: BinaryIO,
    options: ImportOptions,
    *,
    on_progress: ProgressCallback | None = None,
) -> LeadFile:
    """Import a CSV lead list for ``team_id``: one call per valid row, a report of the rejected ones.

    Raises NotFound for another team's template or number, ValidationFailed when the file is not UTF-8 CSV, is
    empty, or its columns do not match the options (nothing is written then: the caller rolls back).
    """
    lookups = await _checked_lookups(session, team_id, options)
    reader = LeadCsvReader(raw)
    header = await asyncio.to_thread(reader.open)
    columns = resolve_columns(
        header,
        phone_column=options.phone_column,
        name_column=options.name_column,
        email_column=options.email_column,
        variable_columns=options.variable_columns,
    )
    file_id = new_id()
    now = utc_now()
    found = lookups.templates[options.call_template_id]
    assert found is not None
    template, _definition = found
    checker = RowChecker(
        header=header,
        columns=columns,
        lookups=lookups,
        origin=CallOrigin(FILE_ORIGIN, file_id, options.file_name),
        template_id=template.id,
        now=now,
        default_region=options.default_region,
        phone_number_id=options.phone_number_id,
        call_delayed_until=options.call_delayed_until,
    )
    wants_events = bool(
        await session.scalar(
            select(exists().where(WebhookSubscription.team_id == team_id, WebhookSubscription.enabled.is_(True)))
        )
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Plan each chunk's look-up for its own numbers: a generic plan of the prepared statement walked every call
        # of the team, and this transaction's inserts make it slower chunk by chunk.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    tally = _Tally()
    seen: dict[str, int] = {}
    # Read ahead: the next chunk is parsed and checked in a thread while this one is checked and written.
    ahead: asyncio.Future[_Chunk | None] = asyncio.ensure_future(asyncio.to_thread(_read_and_check, reader, checker))
    try:
        while (chunk := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(_read_and_check, reader, checker))
            tally.rows += chunk.rows
            for row, reason in chunk.rejections:
                tally.reject(row, reason)
            calls = await _admit(session, team_id, template.id, chunk.calls, seen, tally)
            await _insert(session, calls, wants_events, now)
            tally.accepted += len(calls)
            if on_progress is not None:
                on_progress(tally.rows, reader.bytes_read)
    finally:
        if not ahead.done():
            await asyncio.wait([ahead])  # a thread cannot be cancelled: let it finish before the file is closed
    if tally.rows == 0:
        raise bad_file("the file has a header but no rows of data")
    lead_file = LeadFile(
        id=file_id,
        team_id=team_id,
        file_name=options.file_name,
        call_template_id=template.id,
        template_version=template.current_version,
        header=header,
        delimiter=reader.delimiter,
        column_map=columns.describe(header),
        default_region=options.default_region,
        phone_number_id=options.phone_number_id,
        call_delayed_until=options.call_delayed_until,
        row_count=tally.rows,
        accepted_count=tally.accepted,
        rejected_count=tally.rejected,
        rejected_rows=sorted(tally.rejections, key=lambda r: int(r["row"])),
        created_at=now,
        updated_at=now,
    )
    session.add(lead_file)
    await session.flush()
    return lead_file


async def _checked_lookups(session: AsyncSession, team_id: str, options: ImportOptions) -> CallLookups:
    """The team's data the rows are checked against; a bad template, number or region fails the whole file."""
    lookups = await load_lookups(session, team_id, [options.call_template_id])
    if lookups.templates.get(options.call_template_id) is None:
        raise NotFound(f"call template {options.call_template_id} not found")
    if options.phone_number_id and options.phone_number_id not in lookups.numbers:
        raise NotFound(f"phone number {options.phone_number_id} not found")
    problems: list[ErrorDetail] = []
    if options.default_region is not None and options.default_region not in phonenumbers.SUPPORTED_REGIONS:
        problems.append(ErrorDetail("defaultRegion", "must be a two-letter country code such as US or GB"))
    probe = PhoneCallCreate(
        call_template_id=options.call_template_id, to_phone_number="+0", phone_number_id=options.phone_number_id
    )
    caller_number(probe, lookups, problems)
    if problems:
        raise ValidationFailed("the file cannot be imported", problems)
    return lookups


@dataclass
class _Chunk:
    """One chunk's outcome from the reading thread: data rows seen, call rows to insert, rows rejected."""

    rows: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[tuple[int, str]] = field(default_factory=list)


def _read_and_check(reader: LeadCsvReader, checker: RowChecker) -> _Chunk | None:
    """Read the next chunk and check its rows; ``None`` at the end of the file. Runs in a thread."""
    records = reader.read_chunk(CHUNK_ROWS)
    if not records:
        return None
    chunk = _Chunk()
    for record in records:
        outcome = checker.check(record)
        if outcome is None:
            continue
        chunk.rows += 1
        if isinstance(outcome, str):
            chunk.rejections.append((record.row, outcome))
        else:
            chunk.calls.append(outcome)
    return chunk


async def _admit(
    session: AsyncSession,
    team_id: str,
    template_id: str,
    rows: list[dict[str, Any]],
    seen: dict[str, int],
    tally: _Tally,
) -> list[dict[str, Any]]:
    """The rows to insert: not on the do-not-call list, not already queued for the template, and not a number an
    earlier row of the file already has (``seen``: number → the row kept for it). The others are rejected."""
    numbers = list({str(row["to_phone_number"]) for row in rows} - seen.keys())
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    blocked: set[str] = set()
    queued: dict[str, str] = {}
    if numbers:
        blocked = set(
            await session.scalars(
                select(DoNotCallEntry.number).where(
                    DoNotCallEntry.team_id == team_id, _one_of(DoNotCallEntry.number, numbers, postgres)
                )
            )
        )
        # Only (team_id, to_phone_number) in the WHERE clause, the rest filtered here: with the template or the
        # status in it, PostgreSQL (whose statistics do not see this transaction's inserts) picks an index that
        # walks every call of the template, which made each chunk slower than the last.
        same_numbers = select(
            PhoneCall.to_phone_number, PhoneCall.id, PhoneCall.call_template_id, PhoneCall.status
        ).where(PhoneCall.team_id == team_id, _one_of(PhoneCall.to_phone_number, numbers, postgres))
        for number, call_id, call_template_id, status in await session.execute(same_numbers):
            if call_template_id == template_id and status == CallStatus.QUEUED.value:
                queued[number] = min(call_id, queued.get(number, call_id))
    kept: list[dict[str, Any]] = []
    for row in rows:
        number = str(row["to_phone_number"])
        line = int(row["file_row_number"])
        if number in seen:
            tally.reject(line, f"{number} is a duplicate of row {seen[number]}")
        elif number in blocked:
            tally.reject(line, f"{number} is on the do-not-call list")
        elif number in queued:
            tally.reject(line, f"{number} is already queued for this template (call {queued[number]})")
        else:
            seen[number] = line
            kept.append(row)
    return kept


def _one_of(column: InstrumentedAttribute[str], values: list[str], postgres: bool) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter instead of a thousand to compile."""
    if postgres:
        return column == any_(bindparam(None, values, type_=ARRAY(String())))
    return column.in_(values)


async def _insert(session: AsyncSession, rows: list[dict[str, Any]], wants_events: bool, now: datetime) -> None:
    """Insert one chunk of calls; queue their ``phoneCall.queued`` webhooks when the team subscribes to any."""
    if not rows:
        return
    if wants_events:
        created = await insert_calls(session, rows)
        await record_created_calls(session, created, now=now)
        for call in created:
            session.expunge(call)
        return
    await session.execute(insert(cast(Table, PhoneCall.__table__)), rows)


async def get_file(session: AsyncSession, team_id: str, file_id: str, *, for_update: bool = False) -> LeadFile:
    """One of the team's files."""
    lead_file = await session.get(LeadFile, file_id, with_for_update=for_update) if is_valid_id(file_id) else None
    if lead_file is None or lead_file.team_id != team_id:
        raise NotFound(f"file {file_id} not found")
    return lead_file


async def list_files(
    session: AsyncSession, team_id: str, call_template_id: str | None, limit: int | None, cursor: str | None
) -> Page[LeadFile]:
    """The team's files, newest first."""
    query = select(LeadFile).where(LeadFile.team_id == team_id)
    if call_template_id is not None:
        query = query.where(LeadFile.call_template_id == call_template_id)
    return await paginate(session, query, LeadFile.id, limit, cursor)


async def file_progress(session: AsyncSession, lead_file: LeadFile) -> dict[str, Any]:
    """How the file's calls stand: counts by status (every status, zeros included) and by ``statusCode``."""
    code = PhoneCall.status_extra_info["statusCode"].as_string()
    query = (
        select(PhoneCall.status, code, func.count())
        .where(PhoneCall.team_id == lead_file.team_id, PhoneCall.file_id == lead_file.id)
        .group_by(PhoneCall.status, code)
    )
    by_status = {status.value: 0 for status in CallStatus}
    by_code: dict[str, int] = {}
    for status, status_code, count in await session.execute(query):
        by_status[status] = by_status.get(status, 0) + count
        if status_code:
            by_code[status_code] = by_code.get(status_code, 0) + count
    finished = sum(count for status, count in by_status.items() if CallStatus(status).is_final)
    total = sum(by_status.values())
    return {
        "total": total,
        "finished": finished,
        "pending": total - finished,
        "byStatus": by_status,
        "byStatusCode": dict(sorted(by_code.items())),
    }


async def cancel_file(session: AsyncSession, team_id: str, file_id: str) -> LeadFile:
    """Cancel every call of the file that is still queued (not dialled yet); calls under way are left alone.

    Each cancelled call ends ``cancelled`` with ``CANCELLED_BY_USER`` and queues its webhooks, as a single cancel
    does. Cancelling again cancels what was queued since (retries), and keeps the first ``cancelledAt``.
    """
    lead_file = await get_file(session, team_id, file_id, for_update=True)
    now = utc_now()
    statement = (
        update(PhoneCall)
        .where(
            PhoneCall.team_id == team_id,
            PhoneCall.file_id == lead_file.id,
            PhoneCall.status == CallStatus.QUEUED.value,
        )
        .values(
            status=CallStatus.CANCELLED.value,
            status_extra_info={"statusCode": StatusCode.CANCELLED_BY_USER.value},
            next_attempt_at=None,
            updated_at=now,
        )
        .returning(PhoneCall.id)
        .execution_options(synchronize_session=False)
    )
    cancelled = list(await session.scalars(statement))
    subscribed = await session.scalar(
        select(exists().where(WebhookSubscription.team_id == team_id, WebhookSubscription.enabled.is_(True)))
    )
    if subscribed:
        for start in range(0, len(cancelled), CHUNK_ROWS):
            ids = cancelled[start : start + CHUNK_ROWS]
            for call in await session.scalars(select(PhoneCall).where(PhoneCall.id.in_(ids))):
                await record_status_event(session, call, now=now)
    lead_file.cancelled_at = lead_file.cancelled_at or now
    lead_file.updated_at = now
    return lead_file


def file_view(lead_file: LeadFile, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    """A File as the API shows it: the import report, and (when given) the progress of its calls."""
    view: dict[str, Any] = {
        "_id": lead_file.id,
        "teamId": lead_file.team_id,
        "fileName": lead_file.file_name,
        "callTemplateId": lead_file.call_template_id,
        "templateVersion": lead_file.template_version,
        "phoneNumberId": lead_file.phone_number_id,
        "callDelayedUntil": format_timestamp(lead_file.call_delayed_until),
        "defaultRegion": lead_file.default_region,
        "columns": lead_file.header,
        "delimiter": lead_file.delimiter,
        "columnMap": lead_file.column_map,
        "rowCount": lead_file.row_count,
        "acceptedCount": lead_file.accepted_count,
        "rejectedCount": lead_file.rejected_count,
        "rejectedRows": lead_file.rejected_rows,
        "rejectedRowsTruncated": lead_file.rejected_count > len(lead_file.rejected_rows),
        "cancelledAt": format_timestamp(lead_file.cancelled_at),
        "createdAt": format_timestamp(lead_file.created_at),
        "updatedAt": format_timestamp(lead_file.updated_at),
    }
    if progress is not None:
        view["progress"] = progress
    return view


async def team_of_template(session: AsyncSession, template_id: str) -> str:
    """The team a template belongs to (the CLI imports for the template's team)."""
    template = await session.get(CallTemplate, template_id) if is_valid_id(template_id) else None
    if template is None or template.deleted_at is not None:
        raise NotFound(f"call template {template_id} not found")
    return template.team_id


async def team_of_file(session: AsyncSession, file_id: str) -> str:
    """The team a file belongs to (the CLI exports for the file's team)."""
    lead_file = await session.get(LeadFile, file_id) if is_valid_id(file_id) else None
    if lead_file is None:
        raise NotFound(f"file {file_id} not found")
    return lead_file.team_id
