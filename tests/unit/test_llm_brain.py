"""The LLM brain against the OpenAI-compatible stand-in on loopback: streamed replies, tools, failures, the key.

No audio: the brain's replies are read the way the pipeline's BrainProcessor reads them (each streamed piece,
then whether the call ends).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from opencaller.agent import llm_brain
from opencaller.agent.brain import Speech, StreamedReply
from opencaller.agent.channel import CallScript
from opencaller.agent.llm_brain import LlmBrain, LlmDefaults
from opencaller.agent.openai_chat import ChatEndpoint
from opencaller.agent.scripted import Reply
from opencaller.domain.templates import TemplateDefinition
from tests.llm_stand_in import (
    BRAIN_TOOLS,
    Answer,
    ChatStandIn,
    ScriptedCall,
    after_tools,
    chat_stand_in,
    last_user_text,
    tool_answers,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 3, 6, 14, 0, tzinfo=NEW_YORK)  # a Thursday
PROMPT = "You are Sam from Sunny Solar. Ask John for his city."
FIRST = "Hi John, this is Sam from Sunny Solar."
VOICEMAIL = "Hi John, this is Sam from Sunny Solar. Please call us back."
KEY = "sk-test-0123456789"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _brain(
    stand_in: ChatStandIn,
    http: httpx.AsyncClient,
    *,
    first_message: str = FIRST,
    defaults: LlmDefaults | None = None,
    **brain: Any,
) -> LlmBrain:
    definition = TemplateDefinition.model_validate(
        {
            "name": "Solar",
            "prompt": "You are Sam from Sunny Solar. Ask {{customer_name}} for his city.",
            "promptVariables": [{"key": "customer_name"}],
            "resultColumns": [{"columnName": "city", "description": "the city they live in"}],
            "customTags": [{"name": "solar", "description": "interested in solar panels"}],
            "brain": {"type": "llm", "model": "chat-model", "temperature": 0.2, **brain},
        }
    )
    script = CallScript(definition, first_message, VOICEMAIL, prompt=PROMPT)
    return LlmBrain.for_call(
        script, lambda: NOW, defaults or LlmDefaults(stand_in.base_url, "default-model", KEY), http
    )


async def _spoken(speech: Speech | None) -> tuple[list[str], bool]:
    """The pieces said, and whether the call ends after them."""
    assert speech is not None
    if isinstance(speech, Reply):
        return [speech.say], speech.end
    pieces = [piece async for piece in speech.chunks]
    return pieces, speech.ends_call()


async def test_a_reply_streams_in_pieces_with_the_rendered_prompt_tools_and_key(http: httpx.AsyncClient) -> None:
    text = "Nice to meet you. Which city do you live in?"
    with chat_stand_in(lambda body: Answer(text=text, piece=4)) as stand_in:
        brain = _brain(stand_in, http)
        assert brain.opening() == Reply(FIRST)
        pieces, ends = await _spoken(brain.hear("Hi, this is John."))

    assert "".join(pieces) == text and len(pieces) == (len(text) + 3) // 4  # as the server sent them
    assert not ends and not brain.finished
    (request,) = stand_in.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["stream"] is True and body["model"] == "chat-model" and body["temperature"] == 0.2
    assert body["tool_choice"] == "auto"
    assert request.tool_names == BRAIN_TOOLS
    system, opening, user = request.messages
    assert system["role"] == "system" and system["content"].startswith(PROMPT + "\n\n")
    assert "Thursday 2025-03-06 14:00 (America/New_York)" in system["content"]
    assert "city (the city they live in)" in system["content"]
    assert opening == {"role": "assistant", "content": FIRST}
    assert user == {"role": "user", "content": "Hi, this is John."}
    assert brain.messages[-1] == {"role": "assistant", "content": text}


async def test_the_key_goes_only_to_the_servers_own_base_url(http: httpx.AsyncClient) -> None:
    with (
        chat_stand_in(lambda body: Answer(text="Hello.")) as configured,
        chat_stand_in(lambda body: Answer(text="Hello.")) as elsewhere,
    ):
        defaults = LlmDefaults(configured.base_url, "default-model", KEY)
        await _spoken(_brain(configured, http, defaults=defaults, model=None).hear("Hi."))
        await _spoken(_brain(configured, http, defaults=defaults, baseUrl=configured.base_url + "/").hear("Hi."))
        await _spoken(_brain(configured, http, defaults=defaults, baseUrl=elsewhere.base_url).hear("Hi."))

    first, second = configured.requests
    assert first.body["model"] == "default-model"  # the template names none: the server's setting
    assert first.headers["authorization"] == second.headers["authorization"] == f"Bearer {KEY}"
    (foreign,) = elsewhere.requests
    assert "authorization" not in foreign.headers
    assert KEY not in repr(defaults) and KEY not in repr(ChatEndpoint(configured.base_url, "m", KEY))


async def test_split_tool_arguments_book_a_meeting_and_tag_then_the_model_goes_on(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        if after_tools(body):
            return Answer(text="Great, you are booked for Friday at ten.")
        calls = [ScriptedCall("book_meeting", {"datetime": "2025-03-07T10:00"}), ScriptedCall("tag", {"name": "solar"})]
        return Answer(tool_calls=calls, piece=3)

    with chat_stand_in(script) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("Yes, a meeting on Friday at ten works, I want solar panels."))

    assert "".join(pieces) == "Great, you are booked for Friday at ten." and not ends
    assert brain.result.meeting_at == datetime(2025, 3, 7, 15, 0, tzinfo=UTC)
    assert brain.result.tags == ["solar"]
    assert brain.result.status_code == "ENDED_NORMALLY"
    first, second = stand_in.requests
    assert len(second.messages) == len(first.messages) + 3  # the model's tool calls, then one answer for each
    calls = second.messages[-3]
    assert calls["role"] == "assistant" and calls["content"] is None
    assert [c["function"]["name"] for c in calls["tool_calls"]] == ["book_meeting", "tag"]
    assert json.loads(calls["tool_calls"][0]["function"]["arguments"]) == {"datetime": "2025-03-07T10:00"}
    assert [a["ok"] for a in tool_answers(second.body)] == [True, True]


async def test_end_call_ends_after_the_goodbye_said_with_it(http: httpx.AsyncClient) -> None:
    answer = Answer(text="Thanks John, goodbye!", tool_calls=[ScriptedCall("end_call")])
    with chat_stand_in(lambda body: answer) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("That's all, thanks."))
        assert brain.hear("Bye!") is None  # the call is over

    assert "".join(pieces) == "Thanks John, goodbye!" and ends and brain.finished
    assert len(stand_in.requests) == 1
    assert brain.result.status_code == "ENDED_NORMALLY"


async def test_a_callback_without_words_gets_one_more_round_for_the_goodbye(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        if after_tools(body):
            return Answer(text="No problem, I will call you tomorrow at five. Goodbye.")
        return Answer(tool_calls=[ScriptedCall("schedule_callback", {"datetime": "2025-03-07T17:00"})])

    with chat_stand_in(script) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("I'm busy, call me back tomorrow at five."))

    assert "".join(pieces) == "No problem, I will call you tomorrow at five. Goodbye." and ends
    assert brain.result.status_code == "CALL_LATER"
    assert brain.result.call_later_at == datetime(2025, 3, 7, 22, 0, tzinfo=UTC)
    assert [r.body["tool_choice"] for r in stand_in.requests] == ["auto", "none"]


async def test_a_closing_round_without_words_still_says_goodbye(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        return Answer() if after_tools(body) else Answer(tool_calls=[ScriptedCall("mark_do_not_call")])

    with chat_stand_in(script) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("Never call me again."))

    assert pieces == [llm_brain.GOODBYE] and ends
    assert brain.result.status_code == "DO_NOT_CALL" and brain.result.do_not_call is True
    assert len(stand_in.requests) == 2


async def test_leave_voicemail_says_the_templates_message_and_ends(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(tool_calls=[ScriptedCall("leave_voicemail")])) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("You have reached John, leave a message after the tone."))

    assert pieces == [VOICEMAIL] and ends
    assert brain.result.status_code == "VOICEMAIL_DETECTED"
    assert len(stand_in.requests) == 1


async def test_a_bad_datetime_goes_back_to_the_model_which_corrects_it(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        answers = tool_answers(body)
        if answers and answers[-1]["ok"]:
            return Answer(text="Done. Goodbye.")
        when = "2025-03-07T17:00" if answers else "tomorrow at five"
        return Answer(tool_calls=[ScriptedCall("schedule_callback", {"datetime": when})])

    with chat_stand_in(script) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("Call me tomorrow at five."))

    assert "".join(pieces) == "Done. Goodbye." and ends
    first_answer = tool_answers(stand_in.requests[1].body)[0]
    assert first_answer["ok"] is False and "YYYY-MM-DDTHH:MM" in first_answer["error"]
    assert brain.result.call_later_at == datetime(2025, 3, 7, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize("failure", [Answer(status=500), Answer(status=429), Answer(text="Hello there", broken=True)])
async def test_a_failing_model_costs_an_apology_then_the_call(http: httpx.AsyncClient, failure: Answer) -> None:
    with chat_stand_in(lambda body: failure) as stand_in:
        brain = _brain(stand_in, http)
        first, first_ends = await _spoken(brain.hear("Hello?"))
        second, second_ends = await _spoken(brain.hear("Hello, are you there?"))

    assert first[-1] == llm_brain.SAY_AGAIN and not first_ends
    assert second[-1] == llm_brain.TROUBLE_GOODBYE and second_ends and brain.finished
    assert brain.result.status_code == "ENDED_NORMALLY"


async def test_a_reply_cut_short_stays_in_the_history_as_far_as_it_was_said(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        if "sorry" in last_user_text(body):
            return Answer(text="No worries.")
        return Answer(text="Let me tell you all about our wonderful solar panels.", piece=8)

    with chat_stand_in(script) as stand_in:
        brain = _brain(stand_in, http)
        reply = brain.hear("What is this about?")
        assert isinstance(reply, StreamedReply)
        heard = []
        async with contextlib.aclosing(reply.chunks) as chunks:  # the callee barges in after two pieces
            async for piece in chunks:
                heard.append(piece)
                if len(heard) == 2:
                    break
        pieces, _ = await _spoken(brain.hear("Sorry, who is this?"))

    assert "".join(pieces) == "No worries."
    history = stand_in.requests[-1].messages
    assert history[-2] == {"role": "assistant", "content": "Let me tell you "}
    assert history[-1] == {"role": "user", "content": "Sorry, who is this?"}


async def test_without_a_first_message_the_model_writes_the_opening(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(text="Hello, this is Sam from Sunny Solar.", keep_alive=True)) as stand_in:
        brain = _brain(stand_in, http, first_message="")
        pieces, ends = await _spoken(brain.opening())
        assert brain.hear_hello("Hello?") is None  # a plain hello over the opening needs no answer
        await _spoken(brain.hear("Who?"))

    assert "".join(pieces) == "Hello, this is Sam from Sunny Solar." and not ends
    opening, follow_up = stand_in.requests
    assert opening.messages[1:] == [{"role": "user", "content": llm_brain.PICKED_UP}]
    assert follow_up.messages[-1] == {"role": "user", "content": "Hello? Who?"}


async def test_a_hello_asking_not_to_be_called_is_answered_at_once(http: httpx.AsyncClient) -> None:
    answer = Answer(text="Sorry to bother you. Goodbye.", tool_calls=[ScriptedCall("mark_do_not_call")])
    with chat_stand_in(lambda body: answer) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear_hello("Please take me off your list and never call again."))

    assert "".join(pieces) == "Sorry to bother you. Goodbye." and ends and brain.result.do_not_call
    assert stand_in.requests[0].messages[-1]["content"].startswith("Please take me off your list")


async def test_silence_prompts_once_then_ends(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(text="Okay.")) as stand_in:
        brain = _brain(stand_in, http)
        assert await _spoken(brain.on_silence()) == ([llm_brain.STILL_THERE], False)
        await _spoken(brain.hear("Yes, sorry."))
        assert await _spoken(brain.on_silence()) == ([llm_brain.STILL_THERE], False)
        assert await _spoken(brain.on_silence()) == ([llm_brain.SILENT_GOODBYE], True)
        assert brain.on_silence() is None

    assert {"role": "assistant", "content": llm_brain.STILL_THERE} in stand_in.requests[0].messages


async def test_out_of_time_says_goodbye(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(text="Okay.")) as stand_in:
        brain = _brain(stand_in, http)
        assert await _spoken(brain.out_of_time()) == ([llm_brain.OUT_OF_TIME], True)

    assert brain.result.status_code == "MAX_DURATION_REACHED" and brain.finished
    assert stand_in.requests == []


async def test_a_model_that_keeps_calling_tools_is_stopped(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(tool_calls=[ScriptedCall("tag", {"name": "solar"})])) as stand_in:
        brain = _brain(stand_in, http)
        pieces, ends = await _spoken(brain.hear("Solar, solar, solar."))

    assert pieces == [] and not ends
    assert len(stand_in.requests) == llm_brain.MAX_ROUNDS
    assert brain.result.tags == ["solar"]


async def test_a_goodbye_cut_short_is_said_again_on_the_next_turn(http: httpx.AsyncClient) -> None:
    def script(body: dict[str, Any]) -> Answer:
        if body["tool_choice"] == "none":
            return Answer(text="No problem, I will call you back tomorrow at five. Goodbye.")
        return Answer(tool_calls=[ScriptedCall("schedule_callback", {"datetime": "2025-03-07T17:00"})])

    with chat_stand_in(script) as stand_in:
        brain = _brain(stand_in, http)
        reply = brain.hear("Call me back tomorrow at five.")
        assert isinstance(reply, StreamedReply)
        async with contextlib.aclosing(reply.chunks) as chunks:
            async for _ in chunks:
                break  # the callee talks over the goodbye's first piece
        assert brain.finished and brain.result.status_code == "CALL_LATER"  # decided, though not yet said
        again, ends = await _spoken(brain.hear("Sorry, what?"))

    assert "".join(again) == "No problem, I will call you back tomorrow at five. Goodbye." and ends
    assert [r.body["tool_choice"] for r in stand_in.requests] == ["auto", "none", "none"]
    assert stand_in.requests[-1].messages[-2] == {"role": "assistant", "content": "No pr"}


async def test_a_base_url_that_is_not_a_url_costs_an_apology_not_the_call(http: httpx.AsyncClient) -> None:
    with chat_stand_in(lambda body: Answer(text="Hi.")) as stand_in:
        brain = _brain(stand_in, http, baseUrl="http://exa mple.com:99999/v1")
        pieces, ends = await _spoken(brain.hear("Hello?"))

    assert pieces == [llm_brain.SAY_AGAIN] and not ends
    assert stand_in.requests == []
