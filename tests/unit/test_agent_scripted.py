"""The scripted brain and its readers: text in, replies and results out (no audio, injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from opencaller.agent import understanding as u
from opencaller.agent.scripted import ScriptedBrain
from opencaller.domain.templates import TemplateDefinition

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 3, 3, 11, 0, tzinfo=NEW_YORK)  # a Monday


def _brain(**fields: object) -> ScriptedBrain:
    definition = TemplateDefinition.model_validate(
        {
            "name": "Survey",
            "resultColumns": [
                {"columnName": "name", "question": "May I have your name?"},
                {"columnName": "email", "question": "What is your email address?"},
                {"columnName": "seats", "type": "number", "question": "How many seats?"},
                {"columnName": "plan", "type": "choice", "choices": ["Basic", "Premium"], "question": "Which plan?"},
                {"columnName": "start", "type": "date", "question": "When should it start?"},
                {"columnName": "followUp", "type": "boolean", "question": "May we call again?"},
            ],
            "customTags": [{"name": "pricing", "keywords": ["price", "too expensive"]}],
            **fields,
        }
    )
    return ScriptedBrain(definition, "Hi Alex, this is Sam.", local_now=lambda: NOW)


def test_a_full_conversation_fills_every_column_typed() -> None:
    brain = _brain()
    assert brain.opening().say == "Hi Alex, this is Sam. May I have your name?"
    assert brain.hear("My name is Alex Morgan.").say.endswith("What is your email address?")  # type: ignore[union-attr]
    brain.hear("It's alex dot morgan at example dot com.")
    brain.hear("Twenty five, but the price matters.")
    brain.hear("The premium one please.")
    brain.hear("Next Monday would be great.")
    last = brain.hear("Yes, sure.")

    assert last is not None and last.end and "goodbye" in last.say.lower()
    assert "alex dot morgan at example dot com" in last.say
    result = brain.snapshot()
    assert result.status_code == "ENDED_NORMALLY"
    assert {v["columnName"]: v["value"] for v in result.result_values} == {
        "name": "Alex Morgan",
        "email": "alex.morgan@example.com",
        "seats": 25,
        "plan": "Premium",
        "start": "2025-03-10",
        "followUp": True,
    }
    assert result.tags == ["pricing"]


def test_an_unclear_answer_is_asked_once_more_then_skipped() -> None:
    brain = _brain()
    brain.opening()
    brain.hear("Alex")
    brain.hear("alex@example.com")
    again = brain.hear("I really could not say.")
    assert again is not None and again.say.startswith("Sorry") and again.say.endswith("How many seats?")
    moved_on = brain.hear("Hmm, still not sure.")
    assert moved_on is not None and moved_on.say.endswith("Which plan?")
    assert {v["columnName"]: v["value"] for v in brain.snapshot().result_values}["seats"] is None


def test_call_me_back_tomorrow_at_five_is_call_later_in_utc() -> None:
    brain = _brain()
    reply = brain.hear_hello("Sorry, I'm in the middle of something. Can you call me back tomorrow at 5 pm?")
    assert reply is not None and reply.end and "tomorrow at 5 PM" in reply.say
    assert brain.result.status_code == "CALL_LATER"
    assert brain.result.call_later_at == datetime(2025, 3, 4, 22, 0, tzinfo=UTC)


def test_a_plain_hello_over_the_opening_needs_no_reply() -> None:
    brain = _brain()
    brain.opening()
    assert brain.hear_hello("Hello, this is Alex.") is None
    assert brain.hear("My name is Alex Morgan.") is not None  # the first question is still open


@pytest.mark.parametrize(
    ("answers_before", "text", "complete"),
    [
        (0, "My name is Alex Morgan.", True),
        (0, "My name is Alex and", False),
        (0, "Um", False),
        (1, "My email is alex dot morgan,", False),
        (1, "My email is alex dot morgan, at example dot com.", True),
        (2, "Twelve seats.", True),
        (2, "Let me think.", False),
        (3, "The premium one.", True),
        (5, "Yes, sure.", True),
        (5, "Please don't call me again.", True),
        (5, "Call me back tomorrow at 5 pm.", True),
        (5, "Can you call me back later?", False),
    ],
)
def test_a_complete_answer_ends_the_turn_without_waiting(answers_before: int, text: str, complete: bool) -> None:
    brain = _brain()
    brain.opening()
    for answer in ["Alex Morgan.", "alex@example.com", "Twelve.", "Premium.", "Tomorrow."][:answers_before]:
        brain.hear(answer)
    assert brain.complete_answer(text) is complete


def test_call_later_without_a_time_asks_when() -> None:
    brain = _brain()
    brain.opening()
    ask = brain.hear("This is not a good time.")
    assert ask is not None and not ask.end and "when" in ask.say.lower()
    done = brain.hear("Friday morning.")
    assert done is not None and done.end
    assert brain.result.call_later_at == datetime(2025, 3, 7, 15, 0, tzinfo=UTC)


def test_do_not_call_ends_the_call() -> None:
    brain = _brain()
    brain.opening()
    reply = brain.hear("Please take me off your list and never call this number again.")
    assert reply is not None and reply.end
    assert brain.result.do_not_call and brain.result.status_code == "DO_NOT_CALL"
    assert brain.hear("hello?") is None


def test_a_meeting_proposal_sets_the_meeting_time() -> None:
    brain = _brain()
    brain.opening()
    reply = brain.hear("Could we meet on Wednesday at 3:30 pm instead?")
    assert reply is not None and "Wednesday at 3:30 PM" in reply.say
    assert brain.result.meeting_at == datetime(2025, 3, 5, 20, 30, tzinfo=UTC)


def test_a_template_without_columns_greets_and_ends() -> None:
    reply = _brain(resultColumns=[]).opening()
    assert reply.end and reply.say.startswith("Hi Alex, this is Sam.")


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("tomorrow at 5pm", datetime(2025, 3, 4, 17, 0, tzinfo=NEW_YORK)),
        ("tomorrow at five p.m.", datetime(2025, 3, 4, 17, 0, tzinfo=NEW_YORK)),
        ("in 2 hours", datetime(2025, 3, 3, 13, 0, tzinfo=NEW_YORK)),
        ("at 9 am", datetime(2025, 3, 4, 9, 0, tzinfo=NEW_YORK)),
        ("March 5th at noon", datetime(2025, 3, 5, 12, 0, tzinfo=NEW_YORK)),
        ("no idea", None),
    ],
)
def test_read_when(said: str, expected: datetime | None) -> None:
    assert u.read_when(said, NOW) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [("Yes, a follow-up call is fine.", True), ("No, thanks.", False), ("Nope", False), ("Maybe.", None)],
)
def test_read_yes_no(said: str, expected: bool | None) -> None:
    assert u.read_yes_no(said) is expected


def test_readers_of_numbers_choices_and_addresses() -> None:
    assert u.read_number("about 1,200 dollars") == 1200
    assert u.read_number("three hundred and twelve") == 312
    assert u.read_choice("the basic one", ["Basic", "Premium"]) == "Basic"
    assert u.read_choice("either", ["Basic", "Premium"]) is None
    assert u.read_choice("Premium.", ["Basic", "Premium"]) == "Premium"  # Whisper ends a one-word answer with a period
    assert u.read_email("My email is Alex.Morgan at example.com.") == "alex.morgan@example.com"
    assert u.read_email("My email is Alex.Morgan.   at example dot com") == "alex.morgan@example.com"
    # "at" opening a new breath, as Whisper heard it on a simulated call: only before a domain does "that" mean "at"
    assert u.read_email("My D-mail is Alex Dot Morgan.   For that example, dot com.") == "alex.morgan@example.com"
    assert u.read_email("My email is Alex.Morgon.   For that example, .com.") == "alex.morgon@example.com"
    assert u.read_email("alex dot morgan for that matter") is None
    assert u.strip_lead_in("My name is Alex Morgan and I live in New York.") == "Alex Morgan"


def test_silence_is_met_with_a_prompt_then_a_goodbye() -> None:
    brain = _brain()
    brain.opening()
    first = brain.on_silence()
    assert first is not None and not first.end and "still there" in first.say.lower()
    assert brain.hear("Sorry, my name is Alex.") is not None  # an answer resets the count
    again = brain.on_silence()
    assert again is not None and not again.end
    last = brain.on_silence()
    assert last is not None and last.end and "goodbye" in last.say.lower()
    assert brain.result.status_code == "ENDED_NORMALLY"
    assert brain.on_silence() is None


def test_running_out_of_time_says_goodbye_with_its_own_code() -> None:
    brain = _brain()
    brain.opening()
    brain.hear("My name is Alex.")
    reply = brain.out_of_time()
    assert reply.end and "goodbye" in reply.say.lower()
    assert brain.finished and brain.result.status_code == "MAX_DURATION_REACHED"
    assert brain.result.result_values[0] == {"columnName": "name", "value": "Alex"}
