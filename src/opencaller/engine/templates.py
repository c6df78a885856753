"""Call templates: create, read, update (a new version each time), delete (only when no call uses it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.domain.clock import utc_now
from opencaller.domain.ids import is_valid_id
from opencaller.domain.templates import LlmBrain, TemplateDefinition
from opencaller.engine.pagination import Page, paginate
from opencaller.engine.validation import details_from_pydantic
from opencaller.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from opencaller.store.models import CallTemplate, CallTemplateVersion, PhoneCall
from opencaller.webhooks.url_safety import UnsafeWebhookTarget, check_target_url


@dataclass(frozen=True)
class TemplateView:
    """A template with the definition of its current version."""

    template: CallTemplate
    definition: TemplateDefinition


def _checked(definition: TemplateDefinition, *, allow_private_llm: bool) -> TemplateDefinition:
    _check_brain_url(definition, allow_private=allow_private_llm)
    unknown = definition.unknown_placeholders()
    if unknown:
        raise ValidationFailed(
            "the template uses {{variables}} that promptVariables does not declare",
            [
                ErrorDetail(field, "unknown variables: " + ", ".join(names) + " (declare them in promptVariables)")
                for field, names in unknown.items()
            ],
        )
    return definition


def _check_brain_url(definition: TemplateDefinition, *, allow_private: bool) -> None:
    """A template's LLM ``baseUrl`` is fetched by the server on every call: the same guard as webhook targets
    (no loopback, private, link-local or metadata addresses unless the operator allows private ones)."""
    brain = definition.brain
    if not isinstance(brain, LlmBrain) or not brain.base_url:
        return
    try:
        check_target_url(brain.base_url, allow_private=allow_private)
    except UnsafeWebhookTarget as exc:
        reason = str(exc).replace("webhook ", "")
        raise ValidationFailed("the brain's baseUrl may not be used", [ErrorDetail("brain.baseUrl", reason)]) from None


async def create_template(
    session: AsyncSession, team_id: str, definition: TemplateDefinition, *, allow_private_llm: bool = False
) -> TemplateView:
    """Store a new template at version 1. ``allow_private_llm``: the server allows private LLM addresses."""
    _checked(definition, allow_private_llm=allow_private_llm)
    template = CallTemplate(team_id=team_id, current_version=1)
    session.add(template)
    await session.flush()
    session.add(
        CallTemplateVersion(
            template_id=template.id, version=1, definition=definition.model_dump(mode="json", by_alias=True)
        )
    )
    await session.flush()
    return TemplateView(template, definition)


async def _owned(session: AsyncSession, team_id: str, template_id: str) -> CallTemplate:
    template = await session.get(CallTemplate, template_id) if is_valid_id(template_id) else None
    if template is None or template.team_id != team_id or template.deleted_at is not None:
        raise NotFound(f"call template {template_id} not found")
    return template


async def load_definition(session: AsyncSession, template_id: str, version: int) -> TemplateDefinition:
    """The definition of one version of a template."""
    row = await session.get(CallTemplateVersion, (template_id, version))
    if row is None:
        raise NotFound(f"call template {template_id} version {version} not found")
    return TemplateDefinition.model_validate(row.definition)


async def get_template(session: AsyncSession, team_id: str, template_id: str) -> TemplateView:
    """One of the team's templates, at its current version."""
    template = await _owned(session, team_id, template_id)
    return TemplateView(template, await load_definition(session, template.id, template.current_version))


async def list_templates(
    session: AsyncSession, team_id: str, limit: int | None, cursor: str | None
) -> Page[TemplateView]:
    """The team's templates, newest first."""
    query = select(CallTemplate).where(CallTemplate.team_id == team_id, CallTemplate.deleted_at.is_(None))
    page = await paginate(session, query, CallTemplate.id, limit, cursor)
    views = [TemplateView(t, await load_definition(session, t.id, t.current_version)) for t in page.items]
    return Page(items=views, limit=page.limit, next_cursor=page.next_cursor)


async def update_template(
    session: AsyncSession,
    team_id: str,
    template_id: str,
    changes: dict[str, Any],
    *,
    allow_private_llm: bool = False,
) -> TemplateView:
    """Merge ``changes`` (wire keys, camelCase) into the current definition and store it as a new version.

    Calls already made keep the version they were created with.
    """
    current = await get_template(session, team_id, template_id)
    merged = current.definition.model_dump(mode="json", by_alias=True) | changes
    try:
        definition = _checked(TemplateDefinition.model_validate(merged), allow_private_llm=allow_private_llm)
    except ValidationError as exc:
        raise ValidationFailed("invalid call template", details_from_pydantic(exc)) from exc
    template = current.template
    template.current_version += 1
    template.updated_at = utc_now()
    session.add(
        CallTemplateVersion(
            template_id=template.id,
            version=template.current_version,
            definition=definition.model_dump(mode="json", by_alias=True),
        )
    )
    await session.flush()
    return TemplateView(template, definition)


async def delete_template(session: AsyncSession, team_id: str, template_id: str) -> None:
    """Delete a template no call refers to; a template in use answers 409."""
    template = await _owned(session, team_id, template_id)
    in_use = await session.scalar(select(exists().where(PhoneCall.call_template_id == template.id)))
    if in_use:
        raise Conflict("the call template is used by phone calls and cannot be deleted; update it instead")
    template.deleted_at = utc_now()
