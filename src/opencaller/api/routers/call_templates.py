"""``/v1/callTemplates``: the agent definitions calls are made with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from opencaller.api.deps import ServicesDep, TeamId
from opencaller.api.envelope import data, page
from opencaller.api.schemas import ERROR_RESPONSES
from opencaller.domain.templates import TemplateDefinition
from opencaller.engine import templates
from opencaller.engine.views import template_view

router = APIRouter(prefix="/v1/callTemplates", tags=["callTemplates"], responses=ERROR_RESPONSES)

TEMPLATE_EXAMPLE: dict[str, Any] = {
    "name": "Lead qualification",
    "prompt": "You are Ava from Acme calling {{nameOfHuman}} about {{product}}.",
    "firstMessage": "Hi {{nameOfHuman}}, this is Ava from Acme. Do you have a minute?",
    "promptVariables": [{"key": "product", "description": "What we sell", "required": True}],
    "resultColumns": [
        {"columnName": "city", "type": "text", "question": "Which city are you based in?"},
        {"columnName": "interested", "type": "boolean", "question": "Would you like a demo?"},
    ],
    "customTags": [{"name": "pricing", "keywords": ["price", "cost"]}],
    "voicemailMessage": "Hi {{nameOfHuman}}, Ava from Acme here. I'll try again later.",
    "callingWindow": {"start": "09:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
    "retryPolicy": {"maxAttempts": 3, "retryOn": ["busy", "noAnswer"], "delaysMinutes": [30, 120]},
}


@router.post("", summary="Create a call template")
async def create_call_template(
    services: ServicesDep,
    team_id: TeamId,
    body: Annotated[TemplateDefinition, Body(openapi_examples={"qualification": {"value": TEMPLATE_EXAMPLE}})],
) -> dict[str, Any]:
    """Store a template (version 1). Placeholders that no variable declares are refused, by name."""
    async with services.db.transaction() as session:
        allow = services.settings.llm_allow_private_base_urls
        return data(template_view(await templates.create_template(session, team_id, body, allow_private_llm=allow)))


@router.get("", summary="List call templates")
async def list_call_templates(
    services: ServicesDep,
    team_id: TeamId,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """The team's templates, newest first."""
    async with services.db.read() as session:
        return page(await templates.list_templates(session, team_id, limit, cursor), template_view)


@router.get("/{template_id}", summary="Get a call template")
async def get_call_template(services: ServicesDep, team_id: TeamId, template_id: str) -> dict[str, Any]:
    """One template at its current version."""
    async with services.db.read() as session:
        return data(template_view(await templates.get_template(session, team_id, template_id)))


@router.patch("/{template_id}", summary="Update a call template")
async def update_call_template(
    services: ServicesDep,
    team_id: TeamId,
    template_id: str,
    body: Annotated[dict[str, Any], Body(openapi_examples={"rename": {"value": {"name": "Lead qualification v2"}}})],
) -> dict[str, Any]:
    """Change some fields; this makes a new version, and calls already made keep theirs."""
    changes = {k: v for k, v in body.items() if k not in ("_id", "teamId", "version", "createdAt", "updatedAt")}
    allow = services.settings.llm_allow_private_base_urls
    async with services.db.transaction() as session:
        view = await templates.update_template(session, team_id, template_id, changes, allow_private_llm=allow)
        return data(template_view(view))


@router.put("/{template_id}", summary="Replace a call template", include_in_schema=False)
async def replace_call_template(
    services: ServicesDep, team_id: TeamId, template_id: str, body: TemplateDefinition
) -> dict[str, Any]:
    """Replace the whole definition (a new version)."""
    allow = services.settings.llm_allow_private_base_urls
    async with services.db.transaction() as session:
        changes = body.model_dump(mode="json", by_alias=True)
        view = await templates.update_template(session, team_id, template_id, changes, allow_private_llm=allow)
        return data(template_view(view))


@router.delete(
    "/{template_id}",
    summary="Delete a call template",
    responses={409: {"description": "Phone calls use this template"}},
)
async def delete_call_template(services: ServicesDep, team_id: TeamId, template_id: str) -> dict[str, Any]:
    """Delete a template that no call uses."""
    async with services.db.transaction() as session:
        await templates.delete_template(session, team_id, template_id)
    return data({"_id": template_id, "deleted": True})
