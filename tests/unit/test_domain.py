"""Pure domain rules: ids, statuses, phone numbers, timestamps, templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from opencaller.domain.clock import format_timestamp, parse_timestamp
from opencaller.domain.ids import is_valid_id, new_id
from opencaller.domain.phone import InvalidPhoneNumber, normalize_e164, time_zones_for
from opencaller.domain.status import CallStatus, can_transition
from opencaller.domain.templates import TemplateDefinition, placeholders, render


def test_ids_are_24_hex_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert all(is_valid_id(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert new_id(now=1_000) < new_id(now=2_000)
    assert int(new_id(now=1_697_101_680)[:8], 16) == 1_697_101_680  # Mongo-style timestamp prefix


def test_id_shape_check() -> None:
    assert not is_valid_id("12345678901234567890")
    assert not is_valid_id("ZZ3573667364666473667332")
    assert is_valid_id("363573667364666473667332")


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("queued", "ringing", True),
        ("queued", "inProgress", True),
        ("ringing", "queued", False),
        ("inProgress", "ringing", False),
        ("inProgress", "completed", True),
        ("inProgress", "busy", False),
        ("ringing", "noAnswer", True),
        ("completed", "failed", False),
        ("cancelled", "ringing", False),
        ("ringing", "ringing", False),
    ],
)
def test_transitions_only_move_forward(current: str, new: str, allowed: bool) -> None:
    assert can_transition(CallStatus(current), CallStatus(new)) is allowed


def test_canceled_is_read_as_cancelled() -> None:
    assert CallStatus.parse("canceled") is CallStatus.CANCELLED
    with pytest.raises(ValueError):
        CallStatus.parse("done")


def test_phone_numbers_normalise_and_know_their_zones() -> None:
    assert normalize_e164("+1 (202) 555-0100") == "+12025550100"
    assert normalize_e164("020 7946 0958", "GB") == "+442079460958"
    assert time_zones_for("+12025550100") == ["America/New_York"]
    for bad in ("", "123", "+1 555", "hello"):
        with pytest.raises(InvalidPhoneNumber):
            normalize_e164(bad)


def test_timestamps_use_milliseconds_and_z() -> None:
    moment = datetime(2023, 10, 12, 9, 8, 0, 387_654, tzinfo=UTC)
    assert format_timestamp(moment) == "2023-10-12T09:08:00.387Z"
    assert parse_timestamp("2023-10-12T09:08:00.387Z") == datetime(2023, 10, 12, 9, 8, 0, 387_000, tzinfo=UTC)
    assert parse_timestamp("2023-10-12T11:08:00+02:00") == datetime(2023, 10, 12, 9, 8, tzinfo=UTC)


def test_template_placeholders_render_and_unknown_ones_are_reported() -> None:
    template = TemplateDefinition.model_validate(
        {
            "name": "t",
            "prompt": "Call {{ nameOfHuman }} about {{product}} and {{mystery}}.",
            "firstMessage": "Hi {{nameOfHuman}}",
            "promptVariables": [{"key": "product"}],
        }
    )
    assert placeholders(template.prompt) == ["nameOfHuman", "product", "mystery"]
    assert template.unknown_placeholders() == {"prompt": ["mystery"]}
    assert render("Hi {{ name }}, {{x}}!", {"name": "Ann"}) == "Hi Ann, !"


def test_required_variables_and_defaults() -> None:
    template = TemplateDefinition.model_validate(
        {
            "name": "t",
            "promptVariables": [
                {"key": "a"},
                {"key": "b", "required": False},
                {"key": "c", "defaultValue": "C"},
            ],
        }
    )
    assert template.missing_required({}) == ["a"]
    assert template.missing_required({"a": "  "}) == ["a"]
    assert template.missing_required({"a": "x"}) == []
    assert template.variable_values({"a": "x"}) == {"c": "C", "a": "x"}


def test_template_rules() -> None:
    with pytest.raises(ValidationError, match="choices"):
        TemplateDefinition.model_validate({"name": "t", "resultColumns": [{"columnName": "c", "type": "choice"}]})
    with pytest.raises(ValidationError, match="duplicate"):
        TemplateDefinition.model_validate({"name": "t", "promptVariables": [{"key": "a"}, {"key": "a"}]})
    with pytest.raises(ValidationError, match="before"):
        TemplateDefinition.model_validate({"name": "t", "callingWindow": {"start": "20:00", "end": "09:00"}})
    with pytest.raises(ValidationError):
        TemplateDefinition.model_validate({"name": "t", "callingWindow": {"start": "9am"}})
