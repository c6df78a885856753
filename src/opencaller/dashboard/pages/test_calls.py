"""Test calls: place one call with a template from the dashboard, then watch it on its call page.

When the node runs the embedded phone-network simulator, its scripted callees are offered by name (a cooperative
person, a busy line, a voicemail box ...), so a template can be tried end to end with no phone and no account.
The call is created by the engine exactly as ``POST /v1/phoneCalls`` creates it, with ``callOrigin: dashboard``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opencaller.dashboard.auth import CsrfChecked, SignedIn
from opencaller.dashboard.context import Ctx, DashboardContext
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import page_router
from opencaller.domain.calls import PhoneCallCreate
from opencaller.engine import calls, phone_numbers, templates
from opencaller.engine.calls import CallOrigin
from opencaller.engine.validation import details_from_pydantic
from opencaller.engine.webhook_events import WebhookIntake
from opencaller.errors import ErrorDetail, ValidationFailed

router = page_router(prefix=f"{PREFIX}/templates")

OTHER = "other"
"""The callee choice that means "the number typed in the text field"."""


async def _page(
    request: Request,
    context: DashboardContext,
    team_id: str,
    template_id: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> Response:
    async with context.db.read() as db:
        view = await templates.get_template(db, team_id, template_id)
        numbers = (await phone_numbers.list_phone_numbers(db, team_id, 1000, None)).items
        default_id = await phone_numbers.default_number_id(db, team_id)
    callees = context.simulator_callees()
    values = {
        "callee": callees[0].number if callees else OTHER,
        "otherNumber": "",
        "nameOfHuman": "Alex",
        "phoneNumberId": default_id or (numbers[0].id if numbers else ""),
        "record": False,
        "variables": {v.key: v.default_value or "" for v in view.definition.prompt_variables},
        **values,
    }
    return render(
        request,
        "templates/test_call.html",
        status_code=400 if errors else 200,
        area="templates",
        view=view,
        callees=callees,
        numbers=numbers,
        values=values,
        errors=errors or {},
        other=OTHER,
    )


@router.get("/{template_id}/test-call")
async def test_call_form(request: Request, context: Ctx, viewer: SignedIn, template_id: str) -> Response:
    """The test-call form: who to call, from which number, and the template's variables."""
    return await _page(request, context, viewer.team_id, template_id, {})


@router.post("/{template_id}/test-call")
async def place_test_call(
    request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, template_id: str
) -> Response:
    """Create the call (it is dialled as soon as a dispatcher picks it up) and show its page."""
    posted = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    async with context.db.read() as db:
        view = await templates.get_template(db, viewer.team_id, template_id)
    variables = {v.key: posted.get(f"var-{v.key}", "").strip() for v in view.definition.prompt_variables}
    callee = posted.get("callee", OTHER)
    values: dict[str, Any] = {
        "callee": callee,
        "otherNumber": posted.get("otherNumber", "").strip(),
        "nameOfHuman": posted.get("nameOfHuman", "").strip(),
        "phoneNumberId": posted.get("phoneNumberId", ""),
        "record": "record" in posted,
        "variables": variables,
    }
    body = {
        "callTemplateId": view.template.id,
        "toPhoneNumber": values["otherNumber"] if callee == OTHER else callee,
        "nameOfHuman": values["nameOfHuman"],
        "phoneNumberId": values["phoneNumberId"] or None,
        "record": values["record"],
        "promptVariableValues": [{"key": key, "value": value} for key, value in variables.items() if value],
    }
    try:
        try:
            item = PhoneCallCreate.model_validate(body)
        except ValidationError as exc:
            raise ValidationFailed("invalid phone call", details_from_pydantic(exc)) from exc
        async with context.db.transaction() as db:
            intake = WebhookIntake.from_settings(context.settings, context.cipher)
            created = await calls.create_calls(
                db, viewer.team_id, [item], CallOrigin(kind="dashboard"), webhooks=intake
            )
    except ValidationFailed as exc:
        return await _page(request, context, viewer.team_id, template_id, values, _errors(exc.details))
    return RedirectResponse(f"{PREFIX}/calls/{created[0].id}", status_code=303)


def _errors(details: list[ErrorDetail]) -> dict[str, str]:
    """The engine's problems by wire field (without the batch's ``phoneCalls.0.`` prefix)."""
    errors: dict[str, str] = {}
    for detail in details:
        errors.setdefault(detail.field.removeprefix("phoneCalls.0."), detail.message)
    return errors
