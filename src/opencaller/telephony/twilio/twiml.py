"""The TwiML answer that connects an answered call's audio to our media socket.

``<Connect><Stream>`` is Twilio's only bidirectional stream: the caller's audio comes to us and our audio goes
back. Twilio drops any query string from the stream URL, so per-call data (the one-time stream token) travels
in ``<Parameter>`` elements and comes back in the socket's ``start`` message.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from twilio.twiml.voice_response import Connect, VoiceResponse

TWIML_CONTENT_TYPE = "text/xml"
"""Media type to serve TwiML with."""

MAX_PARAMETER_LENGTH = 500
"""Twilio's limit on the combined length of one ``<Parameter>``'s name and value (must stay below it)."""

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def media_stream_answer(
    stream_url: str, parameters: Mapping[str, str], *, status_callback_url: str | None = None
) -> str:
    """TwiML that streams the call both ways to ``stream_url`` and passes ``parameters`` to the socket.

    ``stream_url`` must be ``wss://`` (plain ``ws://`` only to a loopback host, for local simulation) with no
    query string or fragment, since Twilio would silently strip them. Raises ValueError when the URL or a
    parameter would be refused or altered by Twilio.
    """
    _check_stream_url(stream_url)
    for name, value in parameters.items():
        if not name:
            raise ValueError("stream parameter names must not be empty")
        if len(name) + len(value) >= MAX_PARAMETER_LENGTH:
            raise ValueError(f"stream parameter {name!r} is too long for Twilio (name + value >= 500)")
    response = VoiceResponse()
    connect = Connect()
    stream_attributes = {"url": stream_url}
    if status_callback_url is not None:
        stream_attributes["status_callback"] = status_callback_url
        stream_attributes["status_callback_method"] = "POST"
    stream = connect.stream(**stream_attributes)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response.to_xml())


def _check_stream_url(stream_url: str) -> None:
    """Raise ValueError unless Twilio would connect to ``stream_url`` exactly as given."""
    parts = urlsplit(stream_url)
    if parts.scheme == "ws":
        if parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError("stream URL must use wss:// (ws:// is allowed only to a loopback host)")
    elif parts.scheme != "wss":
        raise ValueError("stream URL must use wss://")
    if not parts.netloc:
        raise ValueError("stream URL has no host")
    if parts.query or parts.fragment or stream_url.endswith("?"):
        raise ValueError("stream URL must not carry a query string or fragment; use stream parameters")
