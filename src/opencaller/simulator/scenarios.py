"""Callee scenarios: who answers which number, and how they behave.

A scenario file is YAML with two top-level keys. ``numbers`` maps E.164 numbers to a callee; ``default`` is the
callee for every number not listed (the built-in file makes it a cooperative person, so any dial reaches
somebody). Every callee key is optional except where noted; unknown keys are an error, so typos fail loudly::

    default:                     # callee for numbers not listed below
      label: cooperative person
    numbers:
      "+12025550100":
        label: cooperative person          # short name shown in logs and the inspection API
        description: free text             # what this callee is for
        persona:                           # who the callee is (lines and rules may use these facts)
          name: Alex Morgan
          city: New York
          email: alex.morgan@example.com
          interest: rooftop solar
        outcome: answer                    # answer | busy | no-answer | fail           (default answer)
        ring_seconds: 2.0                  # ringing time before the outcome             (default 2.0)
        sip_code: 486                      # SIP code reported (default by outcome:
                                           #   answer 200, busy 486, no-answer 487, fail 404)
        answered_by: human                 # AMD result (default: human; machine_* for voicemail/IVR)
        greeting: "Hello?"                 # said as soon as the call is answered
        lines:                             # said one by one, each after the agent finishes a turn
          - "Yes, this is Alex."
        rules:                             # heard text (regex, case-insensitive) -> reply; needs a voice with
          - when: "your name"              #   speech recognition, otherwise ``lines`` are used in order
            say: "My name is Alex Morgan."
            hangup: false                  # hang up once the reply has been said
        hangup_after_last_line: false      # hang up once the last line has been said
        hangup_after: 30                   # hang up this many seconds after answering
        reply_after_silence: 0.7           # agent silence (s) that ends the agent's turn
        interrupt_after: 1.0               # barge in: start the next line this many seconds into the
                                           #   agent's first utterance instead of waiting for its end
        dtmf:                              # keys the callee presses (sent as media-stream ``dtmf``)
          - {at: 3.0, digits: "1"}         #   ``at`` is seconds after answering
        voicemail:                         # an answering machine: greeting, beep, then it records
          greeting: "You have reached Sam. Leave a message after the tone."
          beep_hz: 1000
          beep_seconds: 0.5
          max_message_seconds: 30          # it hangs up after this much recording
        ivr:                               # a menu: greeting, then waits for in-band DTMF tones
          greeting: "Press 1 for sales, press 2 for support."
          options: {"1": "Connecting you to sales.", "2": "Connecting you to support."}
          wait_seconds: 6                  # silence before the greeting is repeated
          repeat: 2                        # repeats before it says goodbye and hangs up

Numbers are written in E.164 (``+`` and digits). A test may load its own file through
``SimulatorConfig.scenario_file``; the built-in one ships as ``scenarios/builtin.yaml`` in this package.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
"""An E.164 phone number: ``+``, a country code, at most 15 digits in all."""

Outcome = Literal["answer", "busy", "no-answer", "fail"]

DEFAULT_SIP_CODES: dict[str, int] = {"answer": 200, "busy": 486, "no-answer": 487, "fail": 404}
"""The SIP final response reported for each outcome when the scenario names none."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Persona(_Strict):
    """Who a cooperative callee is: the facts an agent is expected to collect."""

    name: str
    city: str | None = None
    email: str | None = None
    interest: str | None = None


class Rule(_Strict):
    """A reply chosen by what the callee heard: ``when`` is a case-insensitive regex."""

    when: str
    say: str
    hangup: bool = False

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)
        return value


class KeyPress(_Strict):
    """Keys the callee presses ``at`` seconds after answering."""

    at: float = Field(ge=0)
    digits: str = Field(pattern=r"^[0-9*#A-D]+$")


class Voicemail(_Strict):
    """An answering machine: a greeting, a beep, then silence while it records."""

    greeting: str
    beep_hz: float = 1000.0
    beep_seconds: float = Field(default=0.5, gt=0)
    max_message_seconds: float = Field(default=30.0, gt=0)


class IvrMenu(_Strict):
    """An automated menu: a greeting, then a reply for each in-band DTMF key it recognises."""

    greeting: str
    options: dict[str, str] = Field(default_factory=dict)
    wait_seconds: float = Field(default=6.0, gt=0)
    repeat: int = Field(default=2, ge=0)


class CalleeScenario(_Strict):
    """How one callee behaves, from the ring to the hang-up."""

    label: str = "callee"
    description: str = ""
    persona: Persona | None = None
    outcome: Outcome = "answer"
    ring_seconds: float = Field(default=2.0, ge=0)
    sip_code: int | None = Field(default=None, ge=100, le=699)
    answered_by: str | None = None
    greeting: str | None = None
    lines: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    hangup_after_last_line: bool = False
    hangup_after: float | None = Field(default=None, ge=0)
    reply_after_silence: float = Field(default=0.7, gt=0)
    interrupt_after: float | None = Field(default=None, gt=0)
    dtmf: list[KeyPress] = Field(default_factory=list)
    voicemail: Voicemail | None = None
    ivr: IvrMenu | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CalleeScenario:
        if self.voicemail is not None and self.ivr is not None:
            raise ValueError("a callee is either a voicemail or an IVR, not both")
        return self

    def reply_to(self, heard: str) -> Rule | None:
        """The first rule whose ``when`` matches ``heard`` (what the callee understood), or None."""
        for rule in self.rules:
            if re.search(rule.when, heard, flags=re.IGNORECASE):
                return rule
        return None

    @property
    def final_sip_code(self) -> int:
        """The SIP final response this callee gives."""
        return self.sip_code if self.sip_code is not None else DEFAULT_SIP_CODES[self.outcome]

    @property
    def amd_result(self) -> str:
        """What answering-machine detection reports for this callee (Twilio ``AnsweredBy`` values)."""
        if self.answered_by is not None:
            return self.answered_by
        if self.voicemail is not None:
            return "machine_end_beep"
        if self.ivr is not None:
            return "machine_end_other"
        return "human"


class ScenarioBook(_Strict):
    """All callees of one scenario file: the listed numbers and the default for the rest."""

    default: CalleeScenario = Field(default_factory=lambda: CalleeScenario(label="default callee"))
    numbers: dict[str, CalleeScenario] = Field(default_factory=dict)

    @field_validator("numbers")
    @classmethod
    def _e164_keys(cls, value: dict[str, CalleeScenario]) -> dict[str, CalleeScenario]:
        for number in value:
            if not E164.match(number):
                raise ValueError(f"scenario number {number!r} is not E.164 (+ and digits)")
        return value

    def for_number(self, number: str) -> CalleeScenario:
        """The callee that answers ``number``: its own entry, or the default."""
        return self.numbers.get(number, self.default)


def parse_scenarios(text: str) -> ScenarioBook:
    """Parse and validate scenario YAML text."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError("a scenario file must be a mapping with 'default' and/or 'numbers'")
    numbers = data.get("numbers") or {}
    if isinstance(numbers, dict):
        data["numbers"] = {str(key): value for key, value in numbers.items()}
    return ScenarioBook.model_validate(data)


def load_scenarios(path: Path | None = None) -> ScenarioBook:
    """Load a scenario file, or the built-in one shipped with the package when ``path`` is None."""
    if path is None:
        text = resources.files(__package__).joinpath("scenarios/builtin.yaml").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return parse_scenarios(text)
