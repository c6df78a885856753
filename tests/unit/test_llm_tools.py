"""The LLM brain's tools: what each does to the call's outcome, and how a model's mistakes are answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opencaller.agent.llm_tools import CallActions, read_local_datetime, tool_specs
from opencaller.agent.openai_chat import ToolCall
from opencaller.agent.scripted import BrainResult

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 3, 6, 14, 0, tzinfo=NEW_YORK)  # a Thursday, before the DST change on 9 March


def _actions(tags: list[str] | None = None, now: datetime = NOW) -> tuple[CallActions, BrainResult]:
    result = BrainResult()
    return CallActions(result, tags or [], lambda: now), result


def _call(name: str, arguments: dict[str, Any] | str | None = None) -> ToolCall:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return ToolCall(id="call_1", name=name, arguments=text)


def _answer(content: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(content)
    return answer


def test_the_declared_tools_and_tag_only_with_custom_tags() -> None:
    names = [t["function"]["name"] for t in tool_specs([])]
    assert names == ["end_call", "schedule_callback", "mark_do_not_call", "book_meeting", "leave_voicemail"]
    tagged = tool_specs(["solar", "pricing"])
    tag = next(t for t in tagged if t["function"]["name"] == "tag")
    assert tag["function"]["parameters"]["properties"]["name"]["enum"] == ["solar", "pricing"]
    for spec in tagged:
        assert spec["type"] == "function"
        assert spec["function"]["parameters"]["type"] == "object"


def test_schedule_callback_reads_local_time_and_stores_utc() -> None:
    actions, result = _actions()
    outcome = actions.run(_call("schedule_callback", {"datetime": "2025-03-07T17:00"}))

    assert outcome.ends_call and _answer(outcome.content)["ok"] is True
    assert result.status_code == "CALL_LATER"
    assert result.call_later_at == datetime(2025, 3, 7, 22, 0, tzinfo=UTC)  # 17:00 EST is 22:00 UTC


def test_a_local_time_after_the_dst_change_gets_the_summer_offset() -> None:
    actions, result = _actions()
    actions.run(_call("book_meeting", {"datetime": "2025-03-10 09:30"}))

    assert result.meeting_at == datetime(2025, 3, 10, 13, 30, tzinfo=UTC)  # EDT is UTC-4
    assert result.status_code == "ENDED_NORMALLY"  # a meeting does not end the call


def test_an_explicit_offset_is_honoured() -> None:
    moment = read_local_datetime("2025-03-07T17:00:00+01:00", NOW)
    assert moment.astimezone(UTC) == datetime(2025, 3, 7, 16, 0, tzinfo=UTC)
    assert read_local_datetime("2025-03-07T17:00:00Z", NOW).utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", ["tomorrow at five", "2025-13-01T10:00", "", None, 17, "2025-03-07"])
def test_a_datetime_the_model_gets_wrong_is_an_error_for_the_model(bad: Any) -> None:
    actions, result = _actions()
    outcome = actions.run(_call("schedule_callback", {"datetime": bad}))

    answer = _answer(outcome.content)
    assert answer["ok"] is False and "YYYY-MM-DDTHH:MM" in answer["error"]
    assert not outcome.ends_call
    assert result.call_later_at is None and result.status_code == "ENDED_NORMALLY"


def test_a_time_that_has_passed_is_refused() -> None:
    actions, result = _actions()
    outcome = actions.run(_call("book_meeting", {"datetime": "2025-03-06T09:00"}))

    assert "already passed" in _answer(outcome.content)["error"]
    assert result.meeting_at is None


def test_do_not_call_wins_over_a_callback_and_a_plain_end() -> None:
    actions, result = _actions()
    actions.run(_call("schedule_callback", {"datetime": "2025-03-07T17:00"}))
    outcome = actions.run(_call("mark_do_not_call"))
    actions.run(_call("end_call"))

    assert outcome.ends_call
    assert result.status_code == "DO_NOT_CALL" and result.do_not_call is True
    assert result.call_later_at is None
    refused = actions.run(_call("schedule_callback", {"datetime": "2025-03-08T10:00"}))
    assert _answer(refused.content)["ok"] is False and result.call_later_at is None


def test_end_call_does_not_overwrite_a_callback() -> None:
    actions, result = _actions()
    actions.run(_call("schedule_callback", {"datetime": "2025-03-07T17:00"}))
    outcome = actions.run(_call("end_call"))

    assert outcome.ends_call and result.status_code == "CALL_LATER"


def test_leave_voicemail_ends_the_call_as_voicemail() -> None:
    actions, result = _actions()
    outcome = actions.run(_call("leave_voicemail"))

    assert outcome.ends_call and outcome.voicemail
    assert result.status_code == "VOICEMAIL_DETECTED"


def test_tags_are_limited_to_the_templates_names() -> None:
    actions, result = _actions(["Solar", "pricing"])
    actions.run(_call("tag", {"name": "solar"}))
    actions.run(_call("tag", {"name": "Solar"}))
    unknown = actions.run(_call("tag", {"name": "VIP"}))

    assert result.tags == ["Solar"]  # the template's spelling, once
    answer = _answer(unknown.content)
    assert answer["ok"] is False and "Solar" in answer["error"] and "pricing" in answer["error"]


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("send_email", {}, "no tool named"),
        ("book_meeting", "{not json", "not valid JSON"),
        ("book_meeting", "[1, 2]", "JSON object"),
    ],
)
def test_other_mistakes_are_errors_for_the_model(name: str, arguments: Any, error: str) -> None:
    actions, result = _actions()
    outcome = actions.run(_call(name, arguments))

    assert error in _answer(outcome.content)["error"]
    assert result == BrainResult()


def test_a_callee_zone_given_as_a_fixed_offset_works_too() -> None:
    fixed = datetime(2025, 3, 6, 14, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    actions, result = _actions(now=fixed)
    actions.run(_call("schedule_callback", {"datetime": "2025-03-07T09:00"}))

    assert result.call_later_at == datetime(2025, 3, 7, 3, 30, tzinfo=UTC)
