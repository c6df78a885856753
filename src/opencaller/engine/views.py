"""Wire views: how each stored resource is shown on the API (and in webhook payloads), in one place.

Every PhoneCall field of the aicaller contract is present; values not known yet are ``null``.
"""

from __future__ import annotations

from typing import Any

from opencaller.domain.clock import format_timestamp
from opencaller.engine.attempts import public_view
from opencaller.engine.recording_links import RecordingLinks
from opencaller.engine.templates import TemplateView
from opencaller.store.models import ApiKey, DoNotCallEntry, PhoneCall, PhoneNumber, Team, TranscriptTurn


def phone_call_view(
    call: PhoneCall, recording_url: str | None = None, *, links: RecordingLinks | None = None
) -> dict[str, Any]:
    """A PhoneCall exactly as ``GET /v1/phoneCalls/{id}`` returns it. Webhook secrets are never shown.

    ``recordingUrl`` is ``recording_url`` when given, else a fresh signed link from ``links`` when the call has a
    recording, else null.
    """
    if recording_url is None and links is not None and call.recording_path:
        recording_url = links.url(call.id)
    return {
        "_id": call.id,
        "teamId": call.team_id,
        "callTemplateId": call.call_template_id,
        "nameOfHuman": call.name_of_human,
        "toPhoneNumber": call.to_phone_number,
        "promptVariableValues": call.prompt_variable_values,
        "resultValues": call.result_values,
        "fileId": call.file_id,
        "fileName": call.file_name,
        "callTriggeredAt": format_timestamp(call.call_triggered_at),
        "callStartedAt": format_timestamp(call.call_started_at),
        "callEndedAt": format_timestamp(call.call_ended_at),
        "createdAt": format_timestamp(call.created_at),
        "updatedAt": format_timestamp(call.updated_at),
        "phoneNumberId": call.phone_number_id,
        "fromPhoneNumber": call.from_phone_number,
        "toEmailAddress": call.to_email_address,
        "status": call.status,
        "telephonyProvider": call.telephony_provider,
        "record": call.record,
        "callDelayedUntil": format_timestamp(call.call_delayed_until),
        "phoneCallWebhooks": [
            {"url": hook["url"], "subscribedEvent": hook["subscribedEvent"]} for hook in call.phone_call_webhooks
        ],
        "statusExtraInfo": call.status_extra_info,
        "fixedMeetingTime": format_timestamp(call.fixed_meeting_time),
        "recordingUrl": recording_url,
        "callDuration": call.call_duration,
        "callOrigin": call.call_origin,
        "customTagsHitOnCall": call.custom_tags_hit_on_call,
        "attempts": public_view(call.attempts),
    }


def template_view(view: TemplateView) -> dict[str, Any]:
    """A call template: its current definition plus id, team, version and timestamps."""
    template = view.template
    return {
        "_id": template.id,
        "teamId": template.team_id,
        **view.definition.model_dump(mode="json", by_alias=True),
        "version": template.current_version,
        "createdAt": format_timestamp(template.created_at),
        "updatedAt": format_timestamp(template.updated_at),
    }


def phone_number_view(number: PhoneNumber, default_id: str | None) -> dict[str, Any]:
    """A caller-ID number; ``isDefault`` says whether calls without a number use it."""
    return {
        "_id": number.id,
        "teamId": number.team_id,
        "number": number.number,
        "telephonyProvider": number.telephony_provider,
        "label": number.label,
        "concurrencyLimit": number.concurrency_limit,
        "callsPerSecond": number.calls_per_second,
        "isDefault": number.id == default_id,
        "createdAt": format_timestamp(number.created_at),
        "updatedAt": format_timestamp(number.updated_at),
    }


def team_view(team: Team, providers: list[str]) -> dict[str, Any]:
    """The team's settings; credentials show only which providers are configured."""
    return {
        "_id": team.id,
        "name": team.name,
        "defaultPhoneNumberId": team.default_phone_number_id,
        "concurrencyLimit": team.concurrency_limit,
        "timeZone": team.time_zone,
        "providerCredentialsConfigured": providers,
        "createdAt": format_timestamp(team.created_at),
        "updatedAt": format_timestamp(team.updated_at),
    }


def api_key_view(key: ApiKey, plain: str | None = None) -> dict[str, Any]:
    """An API key's metadata; the plain key only in the answer that created it."""
    view: dict[str, Any] = {
        "_id": key.id,
        "teamId": key.team_id,
        "name": key.name,
        "prefix": key.prefix,
        "createdAt": format_timestamp(key.created_at),
        "revokedAt": format_timestamp(key.revoked_at),
    }
    if plain is not None:
        view["apiKey"] = plain
    return view


def do_not_call_view(entry: DoNotCallEntry) -> dict[str, Any]:
    """One do-not-call entry."""
    return {
        "_id": entry.id,
        "teamId": entry.team_id,
        "number": entry.number,
        "reason": entry.reason,
        "source": entry.source,
        "createdAt": format_timestamp(entry.created_at),
    }


def transcript_turn_view(turn: TranscriptTurn) -> dict[str, Any]:
    """One transcript turn: who spoke, what, and when."""
    return {
        "role": turn.role,
        "text": turn.text,
        "startedAt": format_timestamp(turn.started_at),
        "endedAt": format_timestamp(turn.ended_at),
    }
