"""Call templates: the list, and the create and edit forms for every field of a template definition.

Saving goes through the engine's use-cases, so the form obeys exactly the API's rules: on any error nothing is
saved and the form comes back as typed, with the engine's messages next to the fields.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opencaller.dashboard.auth import CsrfChecked, SignedIn
from opencaller.dashboard.context import Ctx
from opencaller.dashboard.nav import PREFIX
from opencaller.dashboard.pages.template_form import (
    COLUMN_TYPES,
    LISTS,
    RETRY_OUTCOMES,
    TemplateForm,
    definition_body,
    form_from_definition,
    form_from_post,
    with_errors,
)
from opencaller.dashboard.rendering import render
from opencaller.dashboard.routing import page_router
from opencaller.domain.templates import WEEKDAYS, TemplateDefinition
from opencaller.engine import templates
from opencaller.engine.templates import TemplateView
from opencaller.engine.validation import details_from_pydantic
from opencaller.errors import ValidationFailed

router = page_router(prefix=f"{PREFIX}/templates")


@router.get("")
async def list_templates(request: Request, context: Ctx, viewer: SignedIn) -> Response:
    """The team's templates, newest first."""
    async with context.db.read() as db:
        page = await templates.list_templates(db, viewer.team_id, 1000, None)
    return render(request, "templates/list.html", area="templates", templates=page.items)


def _form_page(
    request: Request, form: TemplateForm, view: TemplateView | None, *, saved: bool = False, status_code: int = 200
) -> Response:
    return render(
        request,
        "templates/form.html",
        status_code=status_code,
        area="templates",
        form=form,
        view=view,
        saved=saved,
        action=f"{PREFIX}/templates/{view.template.id}" if view else f"{PREFIX}/templates",
        weekdays=WEEKDAYS,
        retry_outcomes=RETRY_OUTCOMES,
        column_types=COLUMN_TYPES,
    )


@router.get("/new")
async def new_template(request: Request, viewer: SignedIn) -> Response:
    """An empty template form."""
    return _form_page(request, form_from_definition(None), None)


async def _posted_form(request: Request) -> tuple[TemplateForm, str | None]:
    """The posted form, and which list to add a blank row to when the "add a row" button was pressed."""
    posted = await request.form()
    multi = {name: [v for v in posted.getlist(name) if isinstance(v, str)] for name in ("windowDays", "retryOn")}
    values = {key: value for key, value in posted.items() if isinstance(value, str)}
    add = values.get("add")
    return form_from_post(values, multi), add if add in LISTS else None


def _definition(form: TemplateForm) -> TemplateDefinition:
    try:
        return TemplateDefinition.model_validate(definition_body(form))
    except ValidationError as exc:
        raise ValidationFailed("invalid call template", details_from_pydantic(exc)) from exc


@router.post("")
async def create_template(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
    """Create a template from the form (version 1); on any error nothing is saved and the form comes back."""
    form, add = await _posted_form(request)
    if add:
        return _form_page(request, form.with_one_more_row(add), None)
    try:
        definition = _definition(form)
        async with context.db.transaction() as db:
            view = await templates.create_template(
                db, viewer.team_id, definition, allow_private_llm=context.settings.llm_allow_private_base_urls
            )
    except ValidationFailed as exc:
        return _form_page(request, with_errors(form.add_blank_rows(), exc.details), None, status_code=400)
    return RedirectResponse(f"{PREFIX}/templates/{view.template.id}?saved=1", status_code=303)


@router.get("/{template_id}")
async def edit_template(request: Request, context: Ctx, viewer: SignedIn, template_id: str) -> Response:
    """A template's current version in the form; another team's template is not found."""
    async with context.db.read() as db:
        view = await templates.get_template(db, viewer.team_id, template_id)
    saved = request.query_params.get("saved") == "1"
    return _form_page(request, form_from_definition(view.definition), view, saved=saved)


@router.post("/{template_id}")
async def update_template(
    request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked, template_id: str
) -> Response:
    """Save the form as the template's next version (calls already made keep theirs)."""
    async with context.db.read() as db:
        view = await templates.get_template(db, viewer.team_id, template_id)
    form, add = await _posted_form(request)
    if add:
        return _form_page(request, form.with_one_more_row(add), view)
    try:
        # the form's fields replace the current ones; a field the form does not show keeps its value
        body: dict[str, Any] = definition_body(form)
        async with context.db.transaction() as db:
            await templates.update_template(
                db,
                viewer.team_id,
                template_id,
                body,
                allow_private_llm=context.settings.llm_allow_private_base_urls,
            )
    except ValidationFailed as exc:
        return _form_page(request, with_errors(form.add_blank_rows(), exc.details), view, status_code=400)
    return RedirectResponse(f"{PREFIX}/templates/{template_id}?saved=1", status_code=303)
