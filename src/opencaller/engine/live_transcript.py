"""The live transcript: each turn is stored as soon as the agent knows it, while the call is still going on.

The agent tells a plain synchronous listener (:meth:`LiveTranscript.add`); the rows are written by one background
writer, in order, each batch in its own short transaction, so the agent never waits for the database and
``GET /v1/transcripts`` (and the dashboard) show the conversation during the call. These rows are provisional: when
the call ends, the outcome's list (authoritative: an interrupted agent turn is trimmed to what the callee heard)
replaces this attempt's rows, after :meth:`LiveTranscript.close` has let the writer finish, so no stale row can
land after the final list. A failed write is logged and skipped; the final list repairs it.
"""

from __future__ import annotations

import asyncio

import structlog

from opencaller.agent.channel import Turn
from opencaller.store.db import Database
from opencaller.store.models import TranscriptTurn

log = structlog.get_logger(__name__)


def transcript_rows(team_id: str, call_id: str, turns: list[Turn], *, first_seq: int) -> list[TranscriptTurn]:
    """The rows of ``turns``, numbered from ``first_seq`` (a call's turns are numbered across its attempts)."""
    return [
        TranscriptTurn(
            team_id=team_id,
            phone_call_id=call_id,
            seq=seq,
            role=turn.role,
            text=turn.text,
            started_at=turn.started_at,
            ended_at=turn.ended_at,
        )
        for seq, turn in enumerate(turns, start=first_seq)
    ]


class LiveTranscript:
    """Appends one attempt's turns to the ``TranscriptTurn`` table, numbered on from ``first_seq``."""

    def __init__(self, db: Database, team_id: str, call_id: str, first_seq: int) -> None:
        self._db = db
        self._team_id = team_id
        self._call_id = call_id
        self._next_seq = first_seq
        self._queue: asyncio.Queue[Turn | None] = asyncio.Queue()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        """Start the writer (owned by this object: :meth:`close` ends it)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._write_all())

    def add(self, turn: Turn) -> None:
        """A turn is known: queue it for writing (the agent's ``on_turn``; never blocks, ignored after close)."""
        if not self._closed:
            self._queue.put_nowait(turn)

    async def close(self) -> None:
        """Stop taking turns and wait until every queued one is written (or the writer is cancelled with us)."""
        self._closed = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            raise

    async def _write_all(self) -> None:
        done = False
        while not done:
            batch: list[Turn] = []
            item = await self._queue.get()
            while item is not None:
                batch.append(item)
                if self._queue.empty():
                    break
                item = self._queue.get_nowait()
            done = item is None
            if batch:
                await self._write(batch)

    async def _write(self, turns: list[Turn]) -> None:
        first = self._next_seq
        self._next_seq += len(turns)
        try:
            async with self._db.transaction() as session:
                session.add_all(transcript_rows(self._team_id, self._call_id, turns, first_seq=first))
        except Exception:
            log.exception("a live transcript turn could not be stored", call_id=self._call_id)
            return
        self.written += len(turns)
