"""Call recordings made from our own end of the media socket: both sides, time-aligned, in one stereo WAV.

Layout: left channel the callee (the provider's inbound frames), right channel the agent; 8 kHz, 16-bit PCM. Stereo
rather than a mono mix so a listener (or a speech-to-text job) can tell who said what, and a mono mix is one
``sox``/``ffmpeg`` flag away.

The callee's side is the provider's inbound stream, a continuous 20 ms frame stream from the start of the media
(silence included), so its sample count is the call's time line. The agent's side is written where it *played*, not
when it was sent: the agent hands audio to the provider faster than real time and the provider buffers it and plays
it in order (``mark`` tells when it has played, ``clear`` drops what has not). The recorder keeps the same buffer on
the same clock: audio sent at time *t* (since the stream started) starts playing at *t*, or when the audio queued
before it ends; ``clear`` at *t* drops everything that would have played after *t*. So the agent's side holds what
the callee heard: a barge-in leaves no unplayed audio in the file, and audio still queued when the line closes is not
written. Sending times are read from the clock rather than counted in inbound frames, because inbound frames can
wait unread in the socket for a moment (while the session starts, or under load) and a count would then place the
agent too early. The alignment is exact up to the network delay between us and the provider (tens of
milliseconds), which a listener cannot hear.

A call retried after voicemail has one recording per answered attempt; the call keeps the **latest** (each attempt
writes ``<call id>.wav.part`` and replaces ``<call id>.wav`` when it ends), so ``recordingUrl`` always plays the
attempt the call's outcome came from.
"""

from __future__ import annotations

import os
import time
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from opencaller.agent.channel import PCM, MediaChannel
from opencaller.audio import TELEPHONE_RATE
from opencaller.domain.ids import is_valid_id
from opencaller.errors import NotFound
from opencaller.store.models import PhoneCall


class CallRecorder:
    """Writes one attempt's audio, both sides, to a WAV file as it happens (a long call never sits in memory).

    ``started`` is when the media stream started, on ``clock`` (seconds, monotonic).
    """

    def __init__(
        self, final_path: Path, *, started: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.final_path = final_path
        self._part = final_path.with_name(final_path.name + ".part")
        self._clock = clock
        self._started = clock() if started is None else started
        final_path.parent.mkdir(parents=True, exist_ok=True)
        self._wav = wave.open(str(self._part), "wb")  # noqa: SIM115 - a long-lived writer: finish() or abandon() closes it
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(TELEPHONE_RATE)
        self._scheduled: deque[tuple[int, PCM]] = deque()
        """The agent's audio not yet written, as (first sample on the time line, samples), in playing order."""
        self._queue_end = 0
        self.samples = 0
        """Samples written so far (both channels): where the time line has got to."""
        self._open = True

    def _now(self) -> int:
        return max(self.samples, round((self._clock() - self._started) * TELEPHONE_RATE))

    def agent_sent(self, pcm: PCM) -> None:
        """The agent handed audio to the provider: it plays now, or after what is already queued."""
        if self._open and pcm.size:
            start = max(self._now(), self._queue_end)
            self._scheduled.append((start, np.asarray(pcm, dtype=np.int16).ravel()))
            self._queue_end = start + pcm.size

    def agent_cleared(self) -> None:
        """Barge-in: the provider drops what it has not played yet, and so does the recording."""
        now = self._now()
        kept: deque[tuple[int, PCM]] = deque()
        for start, audio in self._scheduled:
            if start < now:
                kept.append((start, audio[: now - start]))
        self._scheduled = kept
        self._queue_end = min(self._queue_end, now)

    def callee_said(self, pcm: PCM) -> None:
        """An inbound frame arrived: write it with the agent audio that played during the same samples."""
        if not self._open or not pcm.size:
            return
        first, end = self.samples, self.samples + pcm.size
        frame = np.zeros((pcm.size, 2), dtype=np.int16)
        frame[:, 0] = pcm
        while self._scheduled and self._scheduled[0][0] < end:
            start, audio = self._scheduled.popleft()
            if start < first:  # its beginning lies on samples already written: that part can no longer be
                audio, start = audio[first - start :], first
            take = min(audio.size, end - start)
            frame[start - first : start - first + take, 1] = audio[:take]
            if take < audio.size:
                self._scheduled.appendleft((start + take, audio[take:]))
                break
        self._wav.writeframes(frame.astype("<i2").tobytes())
        self.samples = end

    def finish(self) -> Path | None:
        """Close the file and put it in place; None (and no file) when the line carried no audio at all."""
        if not self._open:
            return None
        self._close()
        if self.samples == 0:
            self._part.unlink(missing_ok=True)
            return None
        os.replace(self._part, self.final_path)
        return self.final_path

    def abandon(self) -> None:
        """Drop the partial file (the attempt could not be stored)."""
        if self._open:
            self._close()
        self._part.unlink(missing_ok=True)

    def _close(self) -> None:
        self._open = False
        self._scheduled.clear()
        self._wav.close()  # patches the header with the final length, and closes the file


class RecordedChannel:
    """A media channel that tells a recorder what the agent plays and clears, and otherwise passes through."""

    def __init__(self, channel: MediaChannel, recorder: CallRecorder) -> None:
        self._channel = channel
        self._recorder = recorder
        self.closed = channel.closed

    async def play(self, pcm: PCM) -> None:
        """Queue audio for the callee (and for the recording, at the pace it plays)."""
        if not self.closed.is_set():
            self._recorder.agent_sent(pcm)
        await self._channel.play(pcm)

    async def wait_played(self) -> bool:
        """Wait until everything queued so far has been played to the callee."""
        return await self._channel.wait_played()

    async def clear(self) -> None:
        """Drop the audio not played yet, from the line and from the recording."""
        self._recorder.agent_cleared()
        await self._channel.clear()


class RecordingStore:
    """Where recordings live: ``<root>/<team id>/<call id>.wav``; the call row stores the path under the root.

    Storing the relative path keeps recordings valid when the data directory moves. Nodes behind a load balancer
    must share the root (a network volume), because the node that serves a link may not be the one that recorded.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def recorder(self, team_id: str, call_id: str, *, started: float | None = None) -> CallRecorder:
        """Start recording an attempt of ``call_id`` whose media stream started at ``started`` (monotonic)."""
        return CallRecorder(self.root / team_id / f"{call_id}.wav", started=started)

    def stored_name(self, path: Path) -> str:
        """The value kept in ``recording_path`` for a finished recording."""
        return path.relative_to(self.root).as_posix()

    def locate(self, stored: str | None) -> Path | None:
        """The file behind a stored ``recording_path``, if it exists and lies inside the root."""
        if not stored:
            return None
        root = self.root.resolve()
        path = (root / stored).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path


async def recording_file(session: AsyncSession, store: RecordingStore, call_id: str) -> Path:
    """The recording of ``call_id`` (whoever's team: the caller has already proved a signed link for it)."""
    call = await session.get(PhoneCall, call_id) if is_valid_id(call_id) else None
    path = store.locate(call.recording_path if call is not None else None)
    if path is None:
        raise NotFound("this call has no recording")
    return path
