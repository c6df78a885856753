"""Answering-machine detection, asynchronous: the call connects at once and the verdict reaches the live agent later.

Synchronous detection makes a human who picks up hear seconds of silence while the provider listens. With the
asynchronous kind the media session starts immediately; the provider posts its verdict (``AnsweredBy``) to a signed
callback once it knows, which may be well into the greeting. The callback is stored on the call's attempt and handed
to the agent's :class:`~opencaller.agent.channel.LateDetection`:

* **same node**: the callback handler finds the session in this node's :class:`LiveDetections` and reports at once;
* **another node** (API nodes behind a balancer share PostgreSQL, and the callback may land anywhere): the session
  polls its attempt row (:func:`watch_stored_verdict`, every half second for as long as detection may take) and
  reports what it finds.

A session registers *before* it reads its attempt for the first time, so a verdict is never missed between the two:
either the handler, after committing, finds the registered session, or the session's first read sees the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from opencaller.agent.answerer import Answerer, AnswerHint
from opencaller.agent.channel import LateDetection
from opencaller.domain.templates import TemplateDefinition
from opencaller.engine.attempts import attempt_index
from opencaller.store.db import Database
from opencaller.store.models import PhoneCall
from opencaller.telephony import AnsweredBy

log = structlog.get_logger(__name__)

DETECTION_WAIT_SECONDS = 35.0
"""How long a session looks for a verdict stored by another node: the provider's detection timeout (Twilio: 30 s by
default) plus a margin for the callback's delivery."""

POLL_SECONDS = 0.5


def wants_machine_detection(definition: TemplateDefinition) -> bool:
    """Whether calls of this template ask the provider for detection: only those that leave a voicemail message."""
    return bool((definition.voicemail_message or "").strip())


def answer_hint(answered_by: str | None, detail: str | None) -> AnswerHint | None:
    """What the provider's answering-machine detection said, in the agent's terms (None when it could not tell).

    A machine whose detection waited for the end of its greeting (Twilio's ``machine_end_beep`` /
    ``_silence`` / ``_other``) can be left the message at once; ``machine_start`` still has its greeting to play.
    """
    if answered_by == AnsweredBy.HUMAN:
        return AnswerHint(Answerer.HUMAN)
    if answered_by == AnsweredBy.MACHINE:
        return AnswerHint(Answerer.VOICEMAIL, greeting_ended=(detail or "").startswith("machine_end"))
    return None


@dataclass
class LiveDetections:
    """The media sessions of this node that may still hear a verdict, by call id.

    A call has one live session at a time, but a second socket for the same call (a reconnect, or a stray one
    with a wrong token that is about to be refused) must not push the real session out, so each call keeps a list.
    """

    _sessions: dict[str, list[tuple[str, LateDetection]]] = field(default_factory=dict)

    @contextmanager
    def register(self, call_id: str, provider_call_id: str, detection: LateDetection) -> Iterator[None]:
        """Make a session reachable by :meth:`deliver` for as long as the block runs."""
        entry = (provider_call_id, detection)
        self._sessions.setdefault(call_id, []).append(entry)
        try:
            yield
        finally:
            sessions = self._sessions[call_id]
            sessions.remove(entry)
            if not sessions:
                del self._sessions[call_id]

    def deliver(self, call_id: str, provider_call_id: str, hint: AnswerHint) -> bool:
        """Report a verdict to the sessions of that call leg running here; False when there is none."""
        found = [detection for leg, detection in self._sessions.get(call_id, []) if leg == provider_call_id]
        for detection in found:
            detection.report(hint)
        return bool(found)


async def watch_stored_verdict(
    db: Database,
    call_id: str,
    provider_call_id: str,
    detection: LateDetection,
    *,
    wait_seconds: float = DETECTION_WAIT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Report a verdict another node stored on the attempt; returns once reported, or when it is time to give up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while detection.hint is None:
        async with db.read() as session:
            call = await session.get(PhoneCall, call_id, populate_existing=True)
            index = attempt_index(call, provider_call_id) if call is not None else None
            attempt = call.attempts[index] if call is not None and index is not None else {}
        if attempt.get("answeredBy") is not None:  # "unknown" too: detection has spoken, nothing to tell the agent
            hint = answer_hint(attempt.get("answeredBy"), attempt.get("answeredByDetail"))
            if hint is not None:
                detection.report(hint)
            log.info(
                "machine detection verdict read from the database", call_id=call_id, answered_by=attempt["answeredBy"]
            )
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        reported = asyncio.ensure_future(detection.wait())
        try:
            await asyncio.wait({reported}, timeout=min(poll_seconds, remaining))
        finally:
            reported.cancel()
            await asyncio.gather(reported, return_exceptions=True)
