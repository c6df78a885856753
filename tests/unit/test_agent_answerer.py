"""Telling a person from a voicemail greeting or a phone menu by the first words heard."""

from __future__ import annotations

import pytest

from opencaller.agent.answerer import Answerer, classify_first_words


@pytest.mark.parametrize(
    "text",
    [
        "Hi, you've reached Sam Lee. I can't take your call right now. Please leave a message after the tone.",
        "The person you are calling is not available.",
        "Hello, I'm unavailable at the moment, leave your name and number.",
        "Please leave a message after the beep.",
        "You have reached the voicemail of Jordan.",
        "Sorry I missed you, I'll get back to you as soon as I can.",
        "YOU'VE REACHED SAM",
    ],
)
def test_voicemail_greetings(text: str) -> None:
    assert classify_first_words(text) == Answerer.VOICEMAIL


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for calling Acme. For sales, press 1. For support, press 2. To leave a message, press 3.",
        "Press one for billing.",
        "Please listen carefully as our menu options have changed.",
        "For sales press 1",
        "To speak to an operator, press 0.",
        "Main menu.",
        "Your call is important to us, please stay on the line.",
    ],
)
def test_phone_menus(text: str) -> None:
    assert classify_first_words(text) == Answerer.IVR


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello?",
        "Hello, this is Alex.",
        "Yes, speaking. Who is this?",
        "Sorry, I'm in the middle of something. Can you call me back tomorrow at 5 pm?",
        "Please take me off your list and never call this number again.",
        "Sorry to cut you off, but who is calling and what is this about?",
        "I'm interested in a quote for solar panels on my roof.",
    ],
)
def test_people(text: str) -> None:
    assert classify_first_words(text) == Answerer.HUMAN


def test_a_menu_that_takes_messages_is_still_a_menu() -> None:
    assert classify_first_words("To leave a message, press 3.") == Answerer.IVR
