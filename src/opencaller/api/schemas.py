"""Request bodies and documented response shapes (for validation and for the OpenAPI page)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from opencaller.domain.calls import MAX_BATCH, PhoneCallCreate, TelephonyProviderName
from opencaller.domain.templates import WireModel

EXAMPLE_ID = "363573667364666473667332"

PHONE_CALL_EXAMPLE: dict[str, Any] = {
    "teamId": EXAMPLE_ID,
    "phoneNumberId": EXAMPLE_ID,
    "callTemplateId": EXAMPLE_ID,
    "nameOfHuman": "John",
    "fromPhoneNumber": "+12025550199",
    "toPhoneNumber": "+12025550100",
    "toEmailAddress": "someone@email.com",
    "status": "queued",
    "telephonyProvider": "twilio",
    "promptVariableValues": [{"key": "customer_name", "value": "John"}],
    "record": False,
    "callDelayedUntil": "2023-10-12T09:08:00.387Z",
    "phoneCallWebhooks": [
        {
            "url": "https://hooks.abc.com/",
            "subscribedEvent": "phoneCall.completed",
            "secret": "NjUyOTgwMjkpJU0NmY25yzWkJFWDBE12",
        }
    ],
}


class PhoneCallBatch(WireModel):
    """Body of ``POST /v1/phoneCalls/batch``: up to 1000 calls, created all together or not at all."""

    phone_calls: Annotated[list[PhoneCallCreate], Field(min_length=1, max_length=MAX_BATCH)]


class PhoneNumberCreate(WireModel):
    """Body of ``POST /v1/phoneNumbers``."""

    number: Annotated[str, Field(min_length=1, max_length=40)]
    telephony_provider: TelephonyProviderName = "twilio"
    label: Annotated[str | None, Field(max_length=200)] = None
    concurrency_limit: Annotated[int | None, Field(ge=1, le=10_000)] = None
    calls_per_second: Annotated[float | None, Field(gt=0, le=1000)] = None
    is_default: bool = False


class PhoneNumberUpdate(WireModel):
    """Body of ``PATCH /v1/phoneNumbers/{id}``; only the fields sent change."""

    telephony_provider: TelephonyProviderName | None = None
    label: Annotated[str | None, Field(max_length=200)] = None
    concurrency_limit: Annotated[int | None, Field(ge=1, le=10_000)] = None
    calls_per_second: Annotated[float | None, Field(gt=0, le=1000)] = None
    is_default: bool | None = None


class TwilioCredentials(WireModel):
    """A Twilio account's API credentials."""

    account_sid: Annotated[str, Field(min_length=1, max_length=64)]
    auth_token: Annotated[str, Field(min_length=1, max_length=128)]


class GenericCredentials(WireModel):
    """Credentials of another provider (Plivo auth id/token, Telnyx API key)."""

    model_config = {"extra": "allow"}


class ProviderCredentials(WireModel):
    """Credentials per provider; send ``null`` for a provider to remove its credentials."""

    twilio: TwilioCredentials | None = None
    plivo: GenericCredentials | None = None
    telnyx: GenericCredentials | None = None


class TeamUpdate(WireModel):
    """Body of ``PATCH /v1/teams/me``; only the fields sent change. Credentials are write-only."""

    name: Annotated[str | None, Field(max_length=200)] = None
    default_phone_number_id: str | None = None
    concurrency_limit: Annotated[int | None, Field(ge=1, le=10_000)] = None
    time_zone: Annotated[str | None, Field(max_length=64)] = None
    provider_credentials: ProviderCredentials | None = None


class DoNotCallCreate(WireModel):
    """Body of ``POST /v1/doNotCall``."""

    number: Annotated[str, Field(min_length=1, max_length=40)]
    reason: Annotated[str | None, Field(max_length=500)] = None


class ApiKeyCreate(WireModel):
    """Body of ``POST /v1/apiKeys``."""

    name: Annotated[str, Field(max_length=200)] = ""


class WebhookCreate(WireModel):
    """Body of ``POST /v1/webhooks``: a team-level subscription. A secret is generated when none is sent."""

    url: Annotated[str, Field(min_length=1, max_length=2000, examples=["https://hooks.example.com/opencaller"])]
    events: Annotated[list[str], Field(max_length=20, examples=[["phoneCall.completed", "phoneCall.ended"]])] = Field(
        default_factory=lambda: ["*"]
    )
    secret: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    enabled: bool = True


class WebhookUpdate(WireModel):
    """Body of ``PATCH /v1/webhooks/{id}``; only the fields sent change. A new ``secret`` rotates the key."""

    url: Annotated[str | None, Field(min_length=1, max_length=2000)] = None
    events: Annotated[list[str] | None, Field(max_length=20)] = None
    secret: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    enabled: bool | None = None


class ErrorBody(BaseModel):
    """The error shape every endpoint answers with."""

    code: str = Field(examples=["validation_error"])
    message: str = Field(examples=["the request is invalid"])
    details: list[dict[str, str]] = Field(
        default_factory=list,
        examples=[[{"field": "toPhoneNumber", "message": "is not a valid phone number"}]],
    )


class ErrorEnvelope(BaseModel):
    """``{"error": {...}}``."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "Invalid input; `details` lists each problem"},
    401: {"model": ErrorEnvelope, "description": "Missing or invalid API key"},
    404: {"model": ErrorEnvelope, "description": "Not found (or another team's)"},
}
