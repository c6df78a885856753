"""Understanding what a callee said, without a language model: yes/no, numbers, times, choices, e-mail, intents.

These are deliberately small rule-based readers of one transcribed utterance (Whisper's text, so punctuation,
case and digits-versus-words vary). They return None when unsure, so the scripted brain can ask again instead
of writing a wrong value. Pure functions: no I/O, no clock (the current local time is passed in).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

_WORD_NUMBERS = {
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

_YES = re.compile(
    r"\b(yes|yeah|yep|yup|sure|of course|certainly|correct|right|absolutely|definitely|fine|ok|okay|agreed|"
    r"sounds good|please do|i do|i am|i would|go ahead)\b"
)
_NO = re.compile(r"\b(no|nope|nah|not|never|don't|do not|wouldn't|isn't|no thanks|negative)\b")
_DO_NOT_CALL = re.compile(
    r"\b(don'?t|do not|never|stop)\s+(ever\s+)?(call|calling|phone|contact)(ing)?\b"
    r"|\b(take|remove|delete|put)\s+(me|my number|this number)\s+(off|from|on)\s+(your|the|this|a)\s+"
    r"(list|calling list|do[- ]not[- ]call list)"
    r"|\bdo[- ]not[- ]call list\b|\bstop calling\b|\bnot call (me|this number) again\b"
)
_CALL_LATER = re.compile(
    r"\bcall (me |us )?(back|later|again|another time|some other time)\b|\bcall back\b"
    r"|\bcall me (tomorrow|on|at|in|next)\b"
    r"|\b(not a good time|bad time|busy right now|in the middle of something|in a meeting|can'?t talk)\b"
    r"|\b(try|ring) (me |again )?(later|tomorrow|back)\b"
)
_MEETING = re.compile(r"\b(meet|meeting|appointment|schedule|book|visit|demo|consultation)\b")
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+")
_LEAD_INS = (
    r"(well|so|um|uh|yes|yeah|sure|okay|ok|oh|hello|hi|hey)[, ]+",
    r"(my (full )?name is|my name's|the name is|this is|it's|it is|i'm|i am|call me)\s+",
    r"(i live in|i'm from|i am from|i'm in|i am in|i'm based in|i am based in|we are in|we're in|i live near|in)\s+",
    r"(my e-?mail( address)? is|e-?mail is|it's|you can reach me at)\s+",
    r"(i'm interested in|i am interested in|i'm looking for|i am looking for|i would like|i'd like|i want|"
    r"i need|we need|interested in)\s+",
)


def normalize(text: str) -> str:
    """Lower case with straight apostrophes and single spaces, the form every reader below expects."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


def _bare(text: str) -> str:
    return re.sub(r"[^\w'@.+-]+", " ", normalize(text)).strip()


def _words(text: str) -> str:
    """Lower-case words without the sentence's punctuation ("Premium." is the word "premium")."""
    return " ".join(w.strip(".'") for w in _bare(text).split())


def read_yes_no(text: str) -> bool | None:
    """True for a clear yes, False for a clear no, None when both or neither are heard."""
    words = _bare(text)
    no = bool(_NO.search(words))
    yes = bool(_YES.search(words))
    if no and not yes:
        return False
    if yes and not no:
        return True
    if yes and no:  # "yes, that's fine, no problem" / "no, I'm not": the first one said wins
        first_yes = _YES.search(words)
        first_no = _NO.search(words)
        assert first_yes is not None and first_no is not None
        if "no problem" in words and not re.search(r"\b(no|nope)\b(?! problem)", words):
            return True
        return first_yes.start() < first_no.start()
    return None


def _words_to_number(words: list[str]) -> int | None:
    total, current, seen = 0, 0, False
    for word in words:
        if word in _WORD_NUMBERS:
            current += _WORD_NUMBERS[word]
            seen = True
        elif word in _SCALES and seen:
            scale = _SCALES[word]
            if scale == 100:
                current *= scale
            else:
                total += current * scale
                current = 0
        elif word == "and" and seen:
            continue
        elif seen:
            break
    return total + current if seen else None


def read_number(text: str) -> int | float | None:
    """The first number said, in digits ("1,200", "3.5") or words ("twenty five")."""
    bare = normalize(text)
    match = re.search(r"-?\d[\d,]*(\.\d+)?", bare)
    if match:
        raw = match.group(0).replace(",", "")
        value = float(raw)
        return int(value) if value.is_integer() and "." not in raw else value
    return _words_to_number(re.findall(r"[a-z]+", bare))


def read_choice(text: str, choices: list[str]) -> str | None:
    """The one choice the callee named (whole phrase first, then a distinctive word of it); None if 0 or 2+."""
    said = f" {_words(text)} "
    whole = [c for c in choices if f" {_words(c)} " in said]
    if len(whole) == 1:
        return whole[0]
    by_word = [c for c in choices if any(len(w) > 2 and f" {w} " in said for w in _words(c).split())]
    if len(by_word) == 1:
        return by_word[0]
    return None


def read_email(text: str) -> str | None:
    """An e-mail address, also when spoken ("alex dot morgan at example dot com")."""
    spoken = normalize(text)
    spoken = re.sub(r"^.*?\b(e-?mail( address)? is|reach me at|it's|it is)\s+", "", spoken)
    spoken = re.sub(r"\s*\b(dot|period)\b\s*", ".", spoken)
    # a lone "at" that starts a new breath is often heard as "that" / "for that": only before a domain
    spoken = re.sub(r"[\s,.]*\b(?:for\s+)?that\s+(?=[a-z0-9-]+[\s,]*\.\s*[a-z]{2,}\b)", " at ", spoken)
    spoken = re.sub(r"\s*\b(at|at sign)\b\s*", "@", spoken)
    spoken = re.sub(r"\s*\b(underscore)\b\s*", "_", spoken)
    spoken = re.sub(r"\s*\b(dash|hyphen)\b\s*", "-", spoken)
    spoken = re.sub(r"[\s,]+(?=[@.])|(?<=[@.])[\s,]+", "", spoken)
    spoken = re.sub(r"\.+@|@\.+", "@", re.sub(r"\.{2,}", ".", spoken))
    candidates = [re.sub(r"[,\s]", "", part) for part in re.split(r"\s(?=\S*@)", spoken)]
    for candidate in [*candidates, spoken.replace(" ", "")]:
        match = _EMAIL.search(candidate.strip(".,"))
        if match:
            return match.group(0).strip(".")
    return None


def strip_lead_in(text: str) -> str:
    """The substance of a free answer: "My name is Alex Morgan." becomes "Alex Morgan"."""
    answer = re.sub(r"\s+", " ", text).strip().strip(".!?,; ")
    changed = True
    while changed:
        changed = False
        for pattern in _LEAD_INS:
            stripped = re.sub(rf"^{pattern}", "", answer, flags=re.IGNORECASE)
            if stripped != answer and stripped.strip():
                answer, changed = stripped.strip(), True
    # "Alex Morgan and I live in New York": keep the first clause for short facts
    answer = re.split(r"\s+(?:and|but)\s+(?:i|my|we)\b|[.;!?]", answer, maxsplit=1, flags=re.IGNORECASE)[0]
    return answer.strip().strip(".!?,; ")


_FILLER = re.compile(r"^(sorry|excuse me|pardon( me)?|what|huh|hmm+|um+|uh+|hello|hi|yes|no|okay|ok|well)?$")


def is_filler(answer: str) -> bool:
    """Whether a free answer carries nothing (empty, "Sorry?", "Hello?"), so the question should be asked again."""
    return bool(_FILLER.match(_bare(answer).strip(".' ")))


_TRAILING = re.compile(r"\b(and|but|or|so|because|the|a|an|my|is|at|um+|uh+|er+|like|with|of|to|in|for|then)$")
"""Words a sentence does not end on: the speaker paused and has more to say."""


def trails_off(text: str) -> bool:
    """True when an utterance stops mid-sentence ("My name is Alex and"), so more is coming after the pause."""
    return bool(_TRAILING.search(_bare(text).rstrip(".,;:!?' ")))


def wants_no_more_calls(text: str) -> bool:
    """The callee asks not to be called again (do-not-call)."""
    return bool(_DO_NOT_CALL.search(normalize(text)))


def wants_call_later(text: str) -> bool:
    """The callee asks to be called back another time."""
    return bool(_CALL_LATER.search(normalize(text)))


def mentions_meeting(text: str) -> bool:
    """The callee proposes or accepts a meeting, appointment or visit."""
    return bool(_MEETING.search(normalize(text)))


def tags_heard(text: str, tags: dict[str, list[str]]) -> list[str]:
    """Names of the tags whose keywords (whole words or phrases, any case) occur in ``text``."""
    said = f" {_bare(text)} "
    return [name for name, keywords in tags.items() if any(f" {_bare(k)} " in said for k in keywords if k.strip())]


_TIME = re.compile(
    r"\b(?:at\s+|around\s+|by\s+)?(?P<h>\d{1,2}|" + "|".join(list(_WORD_NUMBERS)[1:13]) + r")"
    r"(?:(?::|\.|\s)(?P<m>[0-5]\d)|\s+(?P<mw>thirty|fifteen|forty[- ]five|o'clock))?"
    r"\s*(?P<ap>a\.?\s?m\b\.?|p\.?\s?m\b\.?|in the morning|in the afternoon|in the evening|tonight|o'clock)?"
)


def _read_clock(text: str) -> tuple[time | None, str | None]:
    """A clock time said in ``text`` and the part of day it names, if any."""
    if re.search(r"\bnoon\b|\bmidday\b", text):
        return time(12, 0), None
    if re.search(r"\bmidnight\b", text):
        return time(0, 0), None
    part = None
    for word, name in (
        ("morning", "morning"),
        ("afternoon", "afternoon"),
        ("evening", "evening"),
        ("tonight", "evening"),
    ):
        if word in text:
            part = name
    for match in _TIME.finditer(text):
        raw_hour = match.group("h")
        hour = int(raw_hour) if raw_hour.isdigit() else _WORD_NUMBERS[raw_hour]
        minute_text = match.group("m")
        minute_word = match.group("mw")
        ampm = (match.group("ap") or "").replace(".", "").replace(" ", "")
        explicit = bool(minute_text or ampm or match.group(0).strip().startswith(("at", "around", "by")))
        if not explicit or hour > 23:
            continue
        minute = int(minute_text) if minute_text else 0
        if minute_word and minute_word != "o'clock":
            minute = {"thirty": 30, "fifteen": 15}.get(minute_word, 45)
        if ampm.startswith("pm") or ampm in {"intheafternoon", "intheevening", "tonight"}:
            hour = hour + 12 if hour < 12 else hour
        elif ampm.startswith("am") or ampm == "inthemorning":
            hour = 0 if hour == 12 else hour
        elif hour < 8 and part != "morning":
            hour += 12  # "at 5" for a business call means the afternoon
        if hour < 24:
            return time(hour, minute), part
    return None, part


def _read_day(text: str, today: date) -> date | None:
    if "day after tomorrow" in text:
        return today + timedelta(days=2)
    if re.search(r"\btomorrow\b", text):
        return today + timedelta(days=1)
    if re.search(r"\b(today|tonight|this (morning|afternoon|evening))\b", text):
        return today
    match = re.search(r"\bin (\w+) (day|days|week|weeks)\b", text)
    if match:
        count = read_number(match.group(1)) or (1 if match.group(1) in {"a", "one"} else None)
        if count is not None:
            return today + timedelta(days=int(count) * (7 if match.group(2).startswith("week") else 1))
    for index, name in enumerate(_WEEKDAYS):
        if re.search(rf"\b{name}\b", text):
            ahead = (index - today.weekday()) % 7 or 7
            if re.search(rf"\bnext (week )?{name}\b", text) and ahead < 7:
                ahead += 7 if re.search(r"\bnext week\b", text) else 0
            return today + timedelta(days=ahead)
    match = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    if match:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    months = "|".join(_MONTHS)
    match = re.search(
        rf"\b({months})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({months})\b", text
    )
    if match:
        month_name = match.group(1) or match.group(4)
        day = int(match.group(2) or match.group(3))
        month = _MONTHS.index(month_name) + 1
        try:
            candidate = date(today.year, month, day)
        except ValueError:
            return None
        return candidate if candidate >= today else candidate.replace(year=today.year + 1)
    return None


_PART_DEFAULTS = {"morning": time(10, 0), "afternoon": time(14, 0), "evening": time(18, 0)}


def read_when(text: str, now: datetime) -> datetime | None:
    """A moment the callee names ("tomorrow at 5 pm", "Friday morning", "in 2 hours"), in ``now``'s time zone.

    ``now`` is the callee's current local time (aware); a time without a day is the next such time, a day
    without a time gets a time that suits its part of the day (10:00 by default).
    """
    said = normalize(text)
    match = re.search(r"\bin (an?|\w+) (hour|hours|minute|minutes)\b", said)
    if match:
        count = 1 if match.group(1) in {"a", "an"} else read_number(match.group(1))
        if count is not None:
            unit = timedelta(hours=1) if match.group(2).startswith("hour") else timedelta(minutes=1)
            return (now + unit * float(count)).replace(second=0, microsecond=0)
    day = _read_day(said, now.date())
    clock, part = _read_clock(said)
    if day is None and clock is None:
        return None
    if clock is None:
        clock = _PART_DEFAULTS.get(part or "", time(10, 0))
    if day is None:
        day = now.date()
        if datetime.combine(day, clock, tzinfo=now.tzinfo) <= now:
            day += timedelta(days=1)
    return datetime.combine(day, clock, tzinfo=now.tzinfo)


def spoken_email(address: str) -> str:
    """How an address is read aloud, so that a listener (or a speech recognizer) gets it right."""
    return address.replace("@", " at ").replace(".", " dot ")


def spoken_when(moment: datetime, now: datetime) -> str:
    """A short spoken form of a moment relative to ``now`` ("tomorrow at 5 PM", "Friday at 10:30 AM")."""
    hour = moment.hour % 12 or 12
    clock = f"{hour}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}"
    clock += " PM" if moment.hour >= 12 else " AM"
    days = (moment.date() - now.date()).days
    if days == 0:
        day = "today"
    elif days == 1:
        day = "tomorrow"
    elif 1 < days < 7:
        day = _WEEKDAYS[moment.weekday()].capitalize()
    else:
        day = f"{_MONTHS[moment.month - 1].capitalize()} {moment.day}"
    return f"{day} at {clock}"
