"""Phone numbers: the team's caller-ID numbers, adding one, editing its label, provider, pacing and concurrency or
making it the default, and deleting one no queued call is waiting for.

The form's values are checked with the same limits as ``POST /v1/phoneNumbers`` (a model here, because the API's
schemas are the API's own); on any error nothing is saved and the form comes back as typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.datastructures import FormData

from opencaller.dashboard.auth import CsrfChecked, SignedIn
from opencaller.dashboard.context import Ctx, DashboardContext
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import errors_by_field, render
from opencaller.dashboard.routing import page_router
from opencaller.engine import phone_numbers
from opencaller.engine.teams import PROVIDERS
from opencaller.engine.validation import details_from_pydantic
from opencaller.engine.views import phone_number_view
from opencaller.errors import Conflict, ErrorDetail, ValidationFailed

router = page_router(prefix=f"{PREFIX}/phone-numbers")

TEXT_FIELDS = ("number", "telephonyProvider", "label", "concurrencyLimit", "callsPerSecond")


class NumberSettings(BaseModel):
    """What the form may change on a number, with the API's limits."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    telephony_provider: str = "twilio"
    label: Annotated[str | None, Field(max_length=200)] = None
    concurrency_limit: Annotated[int | None, Field(ge=1, le=10_000)] = None
    calls_per_second: Annotated[float | None, Field(gt=0, le=1000)] = None
    is_default: bool = False


def _posted(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    values["isDefault"] = "isDefault" in form
    return values


def _settings(values: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
    """The engine's fields from the form's text; empty fields clear the optional limits."""
    body = {name: values[name] or None for name in ("label", "concurrencyLimit", "callsPerSecond")}
    problems: list[ErrorDetail] = []
    if new and not values["number"]:
        problems.append(ErrorDetail("number", "enter the number in international form, e.g. +12025550123"))
    if values["telephonyProvider"] not in PROVIDERS:
        problems.append(ErrorDetail("telephonyProvider", "must be one of " + ", ".join(PROVIDERS)))
    try:
        checked = NumberSettings.model_validate({**body, "isDefault": values["isDefault"]})
    except ValidationError as exc:
        problems.extend(details_from_pydantic(exc))
    if problems:
        raise ValidationFailed("invalid phone number", problems)
    return {**checked.model_dump(), "telephony_provider": values["telephonyProvider"]}


async def _list_page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    async with context.db.read() as db:
        default_id = await phone_numbers.default_number_id(db, team_id)
        found = await phone_numbers.list_phone_numbers(db, team_id, 1000, None)
    return render(
        request,
        "phone_numbers/list.html",
        status_code=status_code,
        area="phone-numbers",
        numbers=[phone_number_view(number, default_id) for number in found.items],
        values=values,
        errors=errors,
        providers=PROVIDERS,
        notice=request.query_params.get("done", ""),
    )


BLANK = {"number": "", "telephonyProvider": "twilio", "label": "", "concurrencyLimit": "", "callsPerSecond": ""}


@router.get("")
async def list_numbers(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The team's numbers (the default one marked) and the form to add one."""
    return await _list_page(request, context, viewer.team_id, {**BLANK, "isDefault": False}, {})


@router.post("")
async def add_number(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
    """Add a number; the team's first number becomes its default."""
    values = _posted(await request.form())
    try:
        fields = _settings(values, new=True)
        async with context.db.transaction() as db:
            await phone_numbers.create_phone_number(db, viewer.team_id, {**fields, "number": values["number"]})
    except ValidationFailed as exc:
        return await _list_page(request, context, viewer.team_id, values, errors_by_field(exc.details), 400)
    except Conflict as exc:
        return await _list_page(request, context, viewer.team_id, values, {"number": exc.message}, 409)
    return RedirectResponse(f"{PREFIX}/phone-numbers?done=added", status_code=303)


async def _edit_page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    number_id: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    async with context.db.read() as db:
        number = await phone_numbers.get_phone_number(db, team_id, number_id)
        view = phone_number_view(number, await phone_numbers.default_number_id(db, team_id))
    if values is None:
        values = {
            "number": view["number"],
            "telephonyProvider": view["telephonyProvider"],
            "label": view["label"] or "",
            "concurrencyLimit": "" if view["concurrencyLimit"] is None else str(view["concurrencyLimit"]),
            "callsPerSecond": "" if view["callsPerSecond"] is None else f"{view['callsPerSecond']:g}",
            "isDefault": view["isDefault"],
        }
    return render(
        request,
        "phone_numbers/edit.html",
        status_code=400 if errors else 200,
        area="phone-numbers",
        number=view,
        values=values,
        errors=errors or {},
        providers=PROVIDERS,
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/{number_id}")
async def edit_number(request: Request, context: Ctx, viewer: SignedIn, number_id: str) -> Response:
    """One number's settings; another team's number is not found."""
    return await _edit_page(request, context, viewer.team_id, number_id)


@router.post("/{number_id}")
async def save_number(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, number_id: str) -> Response:
    """Save the number's settings (the number itself cannot change: delete it and add the new one)."""
    async with context.db.read() as db:
        await phone_numbers.get_phone_number(db, viewer.team_id, number_id)
    values = _posted(await request.form())
    try:
        changes = _settings(values)
        async with context.db.transaction() as db:
            await phone_numbers.update_phone_number(db, viewer.team_id, number_id, changes)
    except ValidationFailed as exc:
        return await _edit_page(request, context, viewer.team_id, number_id, values, errors_by_field(exc.details))
    return RedirectResponse(f"{PREFIX}/phone-numbers/{number_id}?saved=1", status_code=303)


@router.get("/{number_id}/delete")
async def confirm_delete(request: Request, context: Ctx, viewer: SignedIn, number_id: str) -> Response:
    """Ask before deleting a number."""
    return await _delete_page(request, context, viewer.team_id, number_id, None)


async def _delete_page(
    request: Request, context: DashboardContext, team_id: str, number_id: str, error: str | None
) -> Response:
    async with context.db.read() as db:
        number = await phone_numbers.get_phone_number(db, team_id, number_id)
        view = phone_number_view(number, await phone_numbers.default_number_id(db, team_id))
    return render(
        request,
        "phone_numbers/delete.html",
        status_code=409 if error else 200,
        area="phone-numbers",
        number=view,
        error=error,
    )


@router.post("/{number_id}/delete")
async def delete_number(
    request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, number_id: str
) -> Response:
    """Delete a number no queued call is waiting to dial from."""
    try:
        async with context.db.transaction() as db:
            await phone_numbers.delete_phone_number(db, viewer.team_id, number_id)
    except Conflict as exc:
        return await _delete_page(request, context, viewer.team_id, number_id, exc.message)
    return RedirectResponse(f"{PREFIX}/phone-numbers?done=deleted", status_code=303)
