"""Who picked up: a person, a voicemail box or an automated menu (IVR), judged from the first words heard.

Providers' answering-machine detection (Twilio AMD) tells human from machine by timing, but not a voicemail box
from a phone menu, and it is not always available; the words themselves are telling ("leave a message after the
tone", "for sales, press 1"). :func:`classify_first_words` reads one transcribed utterance (Whisper's text: case,
punctuation and digits-versus-words vary) and answers :class:`Answerer`. Pure: text in, verdict out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from opencaller.agent.understanding import normalize


class Answerer(StrEnum):
    """What the first words sound like."""

    HUMAN = "human"
    """Nothing machine-like was heard: treat it as a person."""
    VOICEMAIL = "voicemail"
    """An answering machine's greeting: wait for the beep, leave the message."""
    IVR = "ivr"
    """An automated menu: nobody to talk to."""


@dataclass(frozen=True)
class AnswerHint:
    """What the provider's answering-machine detection said before the call's audio reached the agent.

    ``greeting_ended`` means the detection waited for a machine's greeting to end (Twilio ``machine_end_*``): the
    voicemail message can start at once.
    """

    answerer: Answerer
    greeting_ended: bool = False


_DIGIT = r"(\d|zero|one|two|three|four|five|six|seven|eight|nine|star|pound|hash)"

_IVR = re.compile(
    rf"\b(press|push|dial|enter|select)\s+(the\s+)?{_DIGIT}\b"
    rf"|\b(to|for)\s+[a-z' ]{{2,40}}?,?\s+(press|push|dial|say)\b"
    rf"|\bpress\s+(the\s+)?(star|pound|hash)\s+key\b"
    r"|\b(main|following)\s+menu\b|\bmenu\s+options?\b|\b(listen carefully|options have changed)\b"
    r"|\b(thank you|thanks) for calling\b|\b(please )?(stay|hold) on the line\b"
    r"|\bfor (sales|support|billing|customer service|technical support|english|spanish|an operator)\b"
    r"|\byour call (is|may be) (important|recorded|monitored)\b"
    r"|\b(all (of )?our|our) (agents|representatives|operators) are\b"
)
"""Phrases of phone menus and switchboards."""

_VOICEMAIL = re.compile(
    r"\bleave (me |us )?(a |your )?(brief |short )?(message|voicemail|name and number)\b"
    r"|\b(after|at) the (tone|beep)\b|\bwhen you hear the (tone|beep)\b"
    r"|\b(not|isn't|is not) available\b|\bunavailable\b"
    r"|\b(can't|cannot|can not|unable to) (take|answer|come to|get to) (your|the|my) (call|phone)\b"
    r"|\byou('ve| have) reached\b|\b(voice ?mail|mailbox|answering machine)\b"
    r"|\bi('ll| will) (get back|call you back|return your call)\b|\bget back to you\b"
    r"|\b(record|recording) your message\b|\bthe (person|number|subscriber) you (are|have) (calling|called|dialed)\b"
    r"|\bis not (here|in) right now\b|\baway from (the|my) (phone|desk)\b"
)
"""Phrases of answering-machine greetings and carrier voicemail."""


def classify_first_words(text: str) -> Answerer:
    """Voicemail, IVR or (by default) a person, from one utterance heard at the start of the call.

    A menu that also offers to take a message ("to leave a message, press 3") is an IVR: the menu wording wins
    whenever a key is to be pressed.
    """
    words = normalize(text)
    if not words:
        return Answerer.HUMAN
    if _IVR.search(words):
        return Answerer.IVR
    if _VOICEMAIL.search(words):
        return Answerer.VOICEMAIL
    return Answerer.HUMAN
