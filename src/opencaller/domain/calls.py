"""The wire shapes of a phone-call request (aicaller's create body) and its embedded objects."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from opencaller.domain.clock import to_utc
from opencaller.domain.templates import WireModel

TelephonyProviderName = Literal["twilio", "plivo", "telnyx"]
MAX_BATCH = 1000


class PromptVariableValue(WireModel):
    """``{key, value}``: a value for one of the template's ``{{variables}}``."""

    key: Annotated[str, Field(min_length=1, max_length=100)]
    value: str = ""

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_to_text(cls, value: object) -> object:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return value


class PhoneCallWebhook(WireModel):
    """A per-call webhook subscription, as aicaller embeds it in the call."""

    url: Annotated[str, Field(min_length=1, max_length=2000)]
    subscribed_event: str = "phoneCall.completed"
    secret: Annotated[str | None, Field(max_length=500)] = None


class PhoneCallCreate(WireModel):
    """The body of ``POST /v1/phoneCalls`` (and each item of the batch). Unknown fields are ignored."""

    team_id: str | None = None
    call_template_id: Annotated[str, Field(min_length=1, max_length=64)]
    name_of_human: Annotated[str, Field(max_length=200)] = ""
    to_phone_number: Annotated[str, Field(min_length=1, max_length=40)]
    prompt_variable_values: list[PromptVariableValue] = Field(default_factory=list)
    phone_number_id: str | None = None
    from_phone_number: Annotated[str | None, Field(max_length=40)] = None
    to_email_address: Annotated[str | None, Field(max_length=320)] = None
    status: Literal["queued"] | None = None
    telephony_provider: TelephonyProviderName | None = None
    record: bool = False
    call_delayed_until: datetime | None = None
    phone_call_webhooks: Annotated[list[PhoneCallWebhook], Field(max_length=20)] = Field(default_factory=list)

    @field_validator("call_delayed_until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else to_utc(value)

    @field_validator("to_email_address")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or " " in value:
            raise ValueError("must be an email address such as someone@example.com")
        return value

    def variables(self) -> dict[str, str]:
        """The prompt variable values as a dict (a later duplicate key wins)."""
        return {item.key: item.value for item in self.prompt_variable_values}
