"""TwiML parsing: the subset of Twilio's call instructions the simulator executes.

Supported verbs: ``<Say>`` (its text is "spoken" to the callee), ``<Pause length>``, ``<Hangup/>``,
``<Redirect method>url</Redirect>`` and ``<Connect><Stream url><Parameter name value/></Stream></Connect>``
(a bidirectional Media Stream). Anything else is kept as :class:`Unsupported` so the call log shows what was
skipped. The parser is as strict as Twilio where it matters to a platform: the stream URL's query string is
dropped (Twilio strips it) and each ``<Parameter>`` name and value must be under 500 characters.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

MAX_PARAMETER_CHARS = 500
"""Twilio's limit on each ``<Parameter>`` name and value."""


class TwimlError(ValueError):
    """The document is not TwiML the simulator (or Twilio) would accept."""


@dataclass(frozen=True)
class Say:
    """Speak ``text`` to the callee."""

    text: str


@dataclass(frozen=True)
class Pause:
    """Stay silent for ``length`` seconds."""

    length: float = 1.0


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Redirect:
    """Fetch new TwiML from ``url`` and run it instead of what is left."""

    url: str
    method: str = "POST"


@dataclass(frozen=True)
class ConnectStream:
    """Open a bidirectional Media Stream to ``url``; TwiML resumes only when the platform closes it."""

    url: str
    parameters: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"


@dataclass(frozen=True)
class Unsupported:
    """A verb the simulator does not execute (it is logged and skipped)."""

    name: str


Verb = Say | Pause | Hangup | Redirect | ConnectStream | Unsupported


def strip_query(url: str) -> str:
    """``url`` without its query string and fragment, as Twilio connects to stream URLs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _stream(element: ET.Element) -> ConnectStream:
    url = (element.get("url") or "").strip()
    if not url:
        raise TwimlError("<Stream> needs a url attribute")
    parameters: dict[str, str] = {}
    for parameter in element.iter("Parameter"):
        name = parameter.get("name") or ""
        value = parameter.get("value") or ""
        if not name:
            raise TwimlError("<Parameter> needs a name")
        if len(name) >= MAX_PARAMETER_CHARS or len(value) >= MAX_PARAMETER_CHARS:
            raise TwimlError(f"<Parameter> {name[:40]!r} is {MAX_PARAMETER_CHARS} characters or longer")
        parameters[name] = value
    return ConnectStream(
        url=strip_query(url),
        parameters=parameters,
        name=element.get("name"),
        status_callback=element.get("statusCallback"),
        status_callback_method=(element.get("statusCallbackMethod") or "POST").upper(),
    )


def _verb(element: ET.Element) -> Verb:
    tag = element.tag
    if tag == "Say":
        return Say(text=" ".join((element.text or "").split()))
    if tag == "Pause":
        try:
            return Pause(length=float(element.get("length") or 1))
        except ValueError as exc:
            raise TwimlError("<Pause length> must be a number") from exc
    if tag == "Hangup":
        return Hangup()
    if tag == "Redirect":
        return Redirect(url=(element.text or "").strip(), method=(element.get("method") or "POST").upper())
    if tag == "Connect":
        streams = [child for child in element if child.tag == "Stream"]
        if len(streams) == 1:
            return _stream(streams[0])
        return Unsupported(name="Connect/" + "+".join(child.tag for child in element))
    return Unsupported(name=tag)


def parse_twiml(document: str) -> list[Verb]:
    """Parse a TwiML ``<Response>`` document into the verbs to run, in order."""
    if "<!DOCTYPE" in document.upper() or "<!ENTITY" in document.upper():
        # TwiML never declares a DTD; refusing one rules out entity-expansion attacks.
        raise TwimlError("TwiML must not contain a DOCTYPE or ENTITY declaration")
    try:
        root = ET.fromstring(document.strip())  # noqa: S314 - DTDs rejected above, so no entity expansion
    except ET.ParseError as exc:
        raise TwimlError(f"TwiML is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError("the TwiML root element must be <Response>")
    return [_verb(child) for child in root]
