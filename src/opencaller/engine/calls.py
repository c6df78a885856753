"""Phone calls: create (one or a batch, all-or-nothing), read, list with filters, cancel before answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.calls import PhoneCallCreate
from opencaller.domain.clock import utc_now
from opencaller.domain.ids import is_valid_id, new_id
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164
from opencaller.domain.status import CallStatus, StatusCode
from opencaller.domain.templates import TemplateDefinition
from opencaller.engine.pagination import Page, paginate
from opencaller.engine.templates import load_definition
from opencaller.engine.webhook_events import WebhookIntake, record_created_calls, record_status_event
from opencaller.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from opencaller.store.models import CallTemplate, PhoneCall, PhoneNumber, Team

CANCELLABLE = (CallStatus.QUEUED, CallStatus.RINGING)


@dataclass
class CallLookups:
    """What a batch (or a lead-list file) needs from the database, fetched once per distinct id rather than once
    per item: the team, its templates by id (``None`` when not the team's), and its caller numbers."""

    team: Team
    templates: dict[str, tuple[CallTemplate, TemplateDefinition] | None]
    numbers: dict[str, PhoneNumber]


@dataclass(frozen=True)
class CallOrigin:
    """Where calls come from: the API, a lead-list file (with its id and name), or the dashboard."""

    kind: str = "api"
    file_id: str | None = None
    file_name: str | None = None


async def load_lookups(session: AsyncSession, team_id: str, template_ids: Iterable[str]) -> CallLookups:
    """Fetch the team, the named templates (with their current definitions) and the team's numbers once."""
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team not found")
    templates: dict[str, tuple[CallTemplate, TemplateDefinition] | None] = {}
    for template_id in set(template_ids):
        template = await session.get(CallTemplate, template_id) if is_valid_id(template_id) else None
        if template is None or template.team_id != team_id or template.deleted_at is not None:
            templates[template_id] = None
        else:
            definition = await load_definition(session, template.id, template.current_version)
            templates[template_id] = (template, definition)
    numbers = {n.id: n for n in await session.scalars(select(PhoneNumber).where(PhoneNumber.team_id == team_id))}
    return CallLookups(team=team, templates=templates, numbers=numbers)


def call_row(
    item: PhoneCallCreate,
    lookups: CallLookups,
    origin: CallOrigin,
    now: datetime,
    intake: WebhookIntake | None,
    *,
    default_region: str | None = None,
) -> dict[str, Any]:
    """Validate one item against the team's data and return the ``phone_calls`` row to insert; raise
    ValidationFailed with field-relative details. ``default_region`` reads callee numbers written without a
    country code (lead-list files)."""
    problems: list[ErrorDetail] = []
    if item.phone_call_webhooks and intake is None:
        raise RuntimeError("creating calls with phoneCallWebhooks needs a WebhookIntake to encrypt their secrets")
    hooks = intake.stored_webhooks(item.phone_call_webhooks, problems) if intake is not None else []
    found = lookups.templates.get(item.call_template_id)
    if found is None:
        problems.append(ErrorDetail("callTemplateId", f"call template {item.call_template_id} not found"))
    try:
        to_number = normalize_e164(item.to_phone_number, default_region)
    except InvalidPhoneNumber as exc:
        problems.append(ErrorDetail("toPhoneNumber", f"{exc}; write it in E.164 form such as +12025550100"))
        to_number = item.to_phone_number
    number = caller_number(item, lookups, problems)
    if found is not None:
        _template, definition = found
        missing = definition.missing_required(item.variables())
        if missing:
            problems.append(
                ErrorDetail("promptVariableValues", "missing required variables: " + ", ".join(sorted(missing)))
            )
    if number is not None and item.telephony_provider and item.telephony_provider != number.telephony_provider:
        problems.append(
            ErrorDetail(
                "telephonyProvider",
                f"the number {number.number} is on {number.telephony_provider}, not {item.telephony_provider}",
            )
        )
    if problems or found is None or number is None:
        raise ValidationFailed("invalid phone call", problems)
    template, _ = found
    return {
        "id": new_id(),
        "team_id": lookups.team.id,
        "call_template_id": template.id,
        "template_version": template.current_version,
        "name_of_human": item.name_of_human,
        "to_phone_number": to_number,
        "to_email_address": item.to_email_address,
        "from_phone_number": number.number,
        "phone_number_id": number.id,
        "status": CallStatus.QUEUED.value,
        "telephony_provider": number.telephony_provider,
        "record": item.record,
        "call_delayed_until": item.call_delayed_until,
        "prompt_variable_values": [v.model_dump(by_alias=True) for v in item.prompt_variable_values],
        "phone_call_webhooks": hooks,
        "call_origin": origin.kind,
        "file_id": origin.file_id,
        "file_name": origin.file_name,
        "next_attempt_at": item.call_delayed_until or now,
        "attempts": [],
        "created_at": now,
        "updated_at": now,
    }


def caller_number(item: PhoneCallCreate, lookups: CallLookups, problems: list[ErrorDetail]) -> PhoneNumber | None:
    """The team number the call is placed from: by id, by number, or the team default."""
    by_id: PhoneNumber | None = None
    if item.phone_number_id:
        by_id = lookups.numbers.get(item.phone_number_id)
        if by_id is None:
            problems.append(ErrorDetail("phoneNumberId", f"phone number {item.phone_number_id} not found"))
            return None
    if item.from_phone_number:
        try:
            wanted = normalize_e164(item.from_phone_number)
        except InvalidPhoneNumber as exc:
            problems.append(ErrorDetail("fromPhoneNumber", str(exc)))
            return None
        by_number = next((n for n in lookups.numbers.values() if n.number == wanted), None)
        if by_number is None:
            problems.append(
                ErrorDetail("fromPhoneNumber", f"{wanted} is not one of the team's numbers (see /v1/phoneNumbers)")
            )
            return None
        if by_id is not None and by_id.id != by_number.id:
            problems.append(ErrorDetail("fromPhoneNumber", "does not match phoneNumberId"))
            return None
        return by_number
    if by_id is not None:
        return by_id
    default_id = lookups.team.default_phone_number_id
    if default_id is None or default_id not in lookups.numbers:
        problems.append(
            ErrorDetail(
                "fromPhoneNumber",
                "no caller number: pass fromPhoneNumber or phoneNumberId, or give the team a default number",
            )
        )
        return None
    return lookups.numbers[default_id]


def _check_team(items: list[PhoneCallCreate], team_id: str) -> None:
    if any(item.team_id is not None and item.team_id != team_id for item in items):
        raise NotFound("team not found")


async def create_calls(
    session: AsyncSession,
    team_id: str,
    items: list[PhoneCallCreate],
    origin: CallOrigin | None = None,
    *,
    webhooks: WebhookIntake | None = None,
) -> list[PhoneCall]:
    """Create every call or none: any invalid item fails the whole request, naming each bad item by index.

    ``webhooks`` checks and encrypts the items' ``phoneCallWebhooks`` (required when any item has some); the
    ``phoneCall.queued`` event is queued for every subscription that wants it, in the same transaction.
    """
    _check_team(items, team_id)
    lookups = await load_lookups(session, team_id, (item.call_template_id for item in items))
    now = utc_now()
    rows: list[dict[str, Any]] = []
    problems: list[ErrorDetail] = []
    for index, item in enumerate(items):
        try:
            rows.append(call_row(item, lookups, origin or CallOrigin(), now, webhooks))
        except ValidationFailed as exc:
            problems.extend(ErrorDetail(f"phoneCalls.{index}.{d.field}", d.message) for d in exc.details)
    if problems:
        raise ValidationFailed(f"{len({p.field.split('.')[1] for p in problems})} phone call(s) are invalid", problems)
    created = await insert_calls(session, rows)
    await record_created_calls(session, created, now=now)
    return created


async def create_call(
    session: AsyncSession, team_id: str, item: PhoneCallCreate, *, webhooks: WebhookIntake | None = None
) -> PhoneCall:
    """Create one call (and queue its ``phoneCall.queued`` webhooks); errors name fields without the batch
    prefix. ``webhooks`` as in :func:`create_calls`."""
    _check_team([item], team_id)
    lookups = await load_lookups(session, team_id, [item.call_template_id])
    if lookups.templates.get(item.call_template_id) is None:
        raise NotFound(f"call template {item.call_template_id} not found")
    if item.phone_number_id and item.phone_number_id not in lookups.numbers:
        raise NotFound(f"phone number {item.phone_number_id} not found")
    now = utc_now()
    row = call_row(item, lookups, CallOrigin(), now, webhooks)
    call = (await insert_calls(session, [row]))[0]
    await record_created_calls(session, [call], now=now)
    return call


async def insert_calls(session: AsyncSession, rows: list[dict[str, Any]]) -> list[PhoneCall]:
    """Insert the rows and return them as stored, in the rows' order, in one round trip (INSERT ... RETURNING).

    Reading them back with ``WHERE id IN (...)`` instead costs a scan of the whole table on PostgreSQL before its
    first ANALYZE (500 ids compared against every row), which made a 1000-call batch grow with the table.
    """
    if not rows:
        return []
    statement = insert(PhoneCall).returning(PhoneCall, sort_by_parameter_order=True)
    return list((await session.scalars(statement, rows)).all())


async def get_call(session: AsyncSession, team_id: str, call_id: str, *, for_update: bool = False) -> PhoneCall:
    """One of the team's calls (``for_update``: row-locked until commit, for read-modify-write)."""
    call = await session.get(PhoneCall, call_id, with_for_update=for_update) if is_valid_id(call_id) else None
    if call is None or call.team_id != team_id:
        raise NotFound(f"phone call {call_id} not found")
    return call


@dataclass(frozen=True)
class CallFilters:
    """The list filters of ``GET /v1/phoneCalls``, already validated."""

    call_template_id: str | None = None
    status: CallStatus | None = None
    file_id: str | None = None
    to_phone_number: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def list_calls(
    session: AsyncSession, team_id: str, filters: CallFilters, limit: int | None, cursor: str | None
) -> Page[PhoneCall]:
    """The team's calls, newest first, filtered."""
    return await paginate(session, filtered_calls(team_id, filters), PhoneCall.id, limit, cursor)


def filtered_calls(team_id: str, filters: CallFilters) -> Select[PhoneCall]:
    """The query for the team's calls that pass ``filters`` (the list and the CSV export share it)."""
    query = select(PhoneCall).where(PhoneCall.team_id == team_id)
    if filters.call_template_id is not None:
        query = query.where(PhoneCall.call_template_id == filters.call_template_id)
    if filters.status is not None:
        query = query.where(PhoneCall.status == filters.status.value)
    if filters.file_id is not None:
        query = query.where(PhoneCall.file_id == filters.file_id)
    if filters.to_phone_number is not None:
        query = query.where(PhoneCall.to_phone_number == filters.to_phone_number)
    if filters.created_after is not None:
        query = query.where(PhoneCall.created_at > filters.created_after)
    if filters.created_before is not None:
        query = query.where(PhoneCall.created_at < filters.created_before)
    return query


async def cancel_call(session: AsyncSession, team_id: str, call_id: str) -> PhoneCall:
    """Cancel a call that has not been answered yet; 409 once it is in progress or over.

    Queues ``phoneCall.cancelled`` and ``phoneCall.ended`` in the same transaction."""
    call = await get_call(session, team_id, call_id, for_update=True)
    status = CallStatus(call.status)
    if status not in CANCELLABLE:
        raise Conflict(f"the call is {status.value} and can no longer be cancelled")
    now = utc_now()
    call.status = CallStatus.CANCELLED.value
    call.status_extra_info = {"statusCode": StatusCode.CANCELLED_BY_USER.value}
    call.next_attempt_at = None
    if status == CallStatus.RINGING:
        call.call_ended_at = now
    call.updated_at = now
    await record_status_event(session, call, now=now)
    return call
