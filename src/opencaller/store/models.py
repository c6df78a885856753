"""The tables. Ids are 24-hex strings (see :mod:`opencaller.domain.ids`); times are UTC.

Wire-level JSON objects that are read and written whole (template definitions, prompt variable values, result
values) are kept as JSON columns; everything the engine filters or claims on is a real, indexed column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from opencaller.domain.clock import utc_now
from opencaller.domain.ids import new_id
from opencaller.store.types import JsonType, UTCDateTime

ID = String(24)


class Base(DeclarativeBase):
    """Declarative base with the naming convention Alembic needs for stable constraint names."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonType, list[Any]: JsonType}


class Timestamped:
    """``created_at``/``updated_at`` maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Team(Timestamped, Base):
    """A tenant: everything else belongs to exactly one team."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    default_phone_number_id: Mapped[str | None] = mapped_column(ID)
    concurrency_limit: Mapped[int] = mapped_column(Integer, default=10)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    provider_credentials: Mapped[str | None] = mapped_column(Text, doc="Fernet-encrypted JSON; never returned.")


class ApiKey(Base):
    """An API key, stored only as its SHA-256 hash; the plain key is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16), doc="First characters of the key, to recognise it in lists.")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column()


class CallTemplate(Timestamped, Base):
    """A template's identity and its current version; the versions themselves are in ``call_template_versions``."""

    __tablename__ = "call_templates"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column()


class CallTemplateVersion(Base):
    """One immutable version of a template's definition (the wire JSON, camelCase)."""

    __tablename__ = "call_template_versions"

    template_id: Mapped[str] = mapped_column(ID, ForeignKey("call_templates.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class PhoneNumber(Timestamped, Base):
    """A caller-ID number the team owns at a provider."""

    __tablename__ = "phone_numbers"
    __table_args__ = (UniqueConstraint("team_id", "number", name="uq_phone_numbers_team_number"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    telephony_provider: Mapped[str] = mapped_column(String(16), default="twilio")
    label: Mapped[str | None] = mapped_column(String(200))
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    calls_per_second: Mapped[float | None] = mapped_column()
    next_dial_at: Mapped[datetime | None] = mapped_column(
        doc="The earliest time the next dial from this number may start (the calls-per-second pacing)."
    )


class PhoneCall(Timestamped, Base):
    """A phone call: the aicaller PhoneCall fields plus the engine's scheduling and lease columns."""

    __tablename__ = "phone_calls"
    __table_args__ = (
        Index("ix_phone_calls_team_id_id", "team_id", "id"),
        Index("ix_phone_calls_team_status_id", "team_id", "status", "id"),
        Index("ix_phone_calls_team_template_id", "team_id", "call_template_id", "id"),
        Index("ix_phone_calls_team_file_id", "team_id", "file_id", "id"),
        Index("ix_phone_calls_team_to_id", "team_id", "to_phone_number", "id"),
        Index("ix_phone_calls_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"))
    call_template_id: Mapped[str] = mapped_column(ID, ForeignKey("call_templates.id"))
    template_version: Mapped[int] = mapped_column(Integer)
    name_of_human: Mapped[str] = mapped_column(String(200))
    to_phone_number: Mapped[str] = mapped_column(String(20))
    to_email_address: Mapped[str | None] = mapped_column(String(320))
    from_phone_number: Mapped[str | None] = mapped_column(String(20))
    phone_number_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    telephony_provider: Mapped[str | None] = mapped_column(String(16))
    record: Mapped[bool] = mapped_column(Boolean, default=False)
    call_delayed_until: Mapped[datetime | None] = mapped_column()
    prompt_variable_values: Mapped[list[Any]] = mapped_column(default=list)
    phone_call_webhooks: Mapped[list[Any]] = mapped_column(default=list)
    result_values: Mapped[list[Any] | None] = mapped_column()
    status_extra_info: Mapped[dict[str, Any] | None] = mapped_column()
    fixed_meeting_time: Mapped[datetime | None] = mapped_column()
    recording_path: Mapped[str | None] = mapped_column(Text)
    call_duration: Mapped[int | None] = mapped_column(Integer)
    call_origin: Mapped[str] = mapped_column(String(16), default="api")
    custom_tags_hit_on_call: Mapped[list[Any] | None] = mapped_column()
    file_id: Mapped[str | None] = mapped_column(ID)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_row_number: Mapped[int | None] = mapped_column(Integer, doc="The data row (from 1) of the lead-list file.")
    file_row: Mapped[list[Any] | None] = mapped_column(doc="That row's original values, in the file's column order.")
    call_triggered_at: Mapped[datetime | None] = mapped_column()
    call_started_at: Mapped[datetime | None] = mapped_column()
    call_ended_at: Mapped[datetime | None] = mapped_column()
    # engine bookkeeping
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[list[Any]] = mapped_column(default=list)
    provider_call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()


class TranscriptTurn(Base):
    """One turn of a call's conversation, in order."""

    __tablename__ = "transcript_turns"
    __table_args__ = (Index("ix_transcript_turns_call_seq", "phone_call_id", "seq"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"))
    phone_call_id: Mapped[str] = mapped_column(ID, ForeignKey("phone_calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class DoNotCallEntry(Base):
    """A number the team must never dial."""

    __tablename__ = "do_not_call"
    __table_args__ = (UniqueConstraint("team_id", "number", name="uq_do_not_call_team_number"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class WebhookSubscription(Timestamped, Base):
    """A team-level webhook subscription: where to send which events, signed with the (encrypted) secret."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_team_id_id", "team_id", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(default=list)
    encrypted_secret: Mapped[str] = mapped_column(Text, doc="Fernet-encrypted signing secret; never returned.")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))


class WebhookDelivery(Base):
    """The webhook outbox and delivery log in one: one row per (event, target), written with the state change.

    A *stream* is one call's deliveries to one target (``target_key``: ``sub:<subscription id>`` or
    ``call:<index in phoneCallWebhooks>``); ``sequence`` orders the call's events, and a delivery is only sent
    once every earlier delivery of its stream is settled. ``message_id`` is the ``webhook-id`` header, the same on
    every attempt.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("phone_call_id", "target_key", "sequence", name="uq_webhook_deliveries_stream_sequence"),
        Index("ix_webhook_deliveries_team_id_id", "team_id", "id"),
        Index("ix_webhook_deliveries_team_call_id", "team_id", "phone_call_id", "id"),
        Index("ix_webhook_deliveries_team_status_id", "team_id", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_status", "subscription_id", "status"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"))
    phone_call_id: Mapped[str] = mapped_column(ID, ForeignKey("phone_calls.id", ondelete="CASCADE"))
    subscription_id: Mapped[str | None] = mapped_column(ID, doc="The team subscription, or null for a per-call one.")
    call_webhook_index: Mapped[int | None] = mapped_column(Integer, doc="Index in the call's phoneCallWebhooks.")
    target_key: Mapped[str] = mapped_column(String(40))
    sequence: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[str] = mapped_column(Text, doc="The exact JSON body sent (and signed) on every attempt.")
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_latency_ms: Mapped[float | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    retry_window_started_at: Mapped[datetime] = mapped_column(doc="Retries stop once this is older than the max age.")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column()


class LeadFile(Timestamped, Base):
    """An uploaded CSV lead list: its header and the import report; its rows live on the calls it created.

    Each accepted row became one call carrying ``file_id``, its data-row number and its original values
    (``PhoneCall.file_row_number``/``file_row``), so the results spreadsheet can reproduce the original columns.
    """

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_team_id_id", "team_id", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    call_template_id: Mapped[str] = mapped_column(ID, ForeignKey("call_templates.id"))
    template_version: Mapped[int] = mapped_column(Integer)
    header: Mapped[list[Any]] = mapped_column(default=list, doc="The original column names, in order.")
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    column_map: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="Which column gave the number, name, email and each prompt variable."
    )
    default_region: Mapped[str | None] = mapped_column(String(2))
    phone_number_id: Mapped[str | None] = mapped_column(ID)
    call_delayed_until: Mapped[datetime | None] = mapped_column()
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    accepted_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_rows: Mapped[list[Any]] = mapped_column(default=list, doc="The first rejected rows: {row, reason}.")
    cancelled_at: Mapped[datetime | None] = mapped_column()
