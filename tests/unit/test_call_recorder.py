"""The call recorder: both sides on the inbound clock, outbound audio where it was played, barge-in respected."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from opencaller.agent.channel import PCM
from opencaller.audio import tone
from opencaller.engine.recordings import CallRecorder, RecordedChannel, RecordingStore

FRAME = 160


def _frame(level: int) -> PCM:
    return np.full(FRAME, level, dtype=np.int16)


def _read(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


class _Line:
    """A media channel that only counts what it is asked to do (the recorder sits in front of it)."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.played: list[int] = []
        self.clears = 0

    async def play(self, pcm: PCM) -> None:
        self.played.append(pcm.size)

    async def wait_played(self) -> bool:
        return True

    async def clear(self) -> None:
        self.clears += 1


class _Clock:
    """Seconds since the media stream started, set by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def at_frame(self, frame: int) -> None:
        self.now = frame * 0.02


def _recorder(path: Path, clock: _Clock) -> CallRecorder:
    return CallRecorder(path, started=0.0, clock=clock)


def test_agent_audio_is_written_as_it_plays_on_the_callee_clock(tmp_path: Path) -> None:
    clock = _Clock()
    recorder = _recorder(tmp_path / "team" / "call.wav", clock)
    recorder.callee_said(_frame(100))  # 20 ms before the agent speaks
    clock.at_frame(1)
    recorder.agent_sent(np.full(FRAME * 2, 7, dtype=np.int16))  # 40 ms, handed over at once ...
    recorder.agent_sent(np.full(FRAME, 8, dtype=np.int16))  # ... and 20 ms more: it plays after them
    for level in (200, 300, 400, 500, 600):
        recorder.callee_said(_frame(level))

    path = recorder.finish()

    assert path == tmp_path / "team" / "call.wav"
    audio = _read(path)
    assert audio.shape == (6 * FRAME, 2)
    assert list(audio[::FRAME, 0]) == [100, 200, 300, 400, 500, 600]  # left: the callee
    assert list(audio[::FRAME, 1]) == [0, 7, 7, 8, 0, 0]  # right: the agent, while it played, then silence
    assert not (tmp_path / "team" / "call.wav.part").exists()


def test_callee_frames_read_late_do_not_pull_the_agent_earlier(tmp_path: Path) -> None:
    clock = _Clock()
    recorder = _recorder(tmp_path / "call.wav", clock)
    recorder.callee_said(_frame(1))
    clock.at_frame(5)  # four frames wait unread in the socket while the agent starts talking
    recorder.agent_sent(np.full(FRAME, 9, dtype=np.int16))
    for _ in range(7):
        recorder.callee_said(_frame(1))

    path = recorder.finish()

    assert path is not None
    assert list(_read(path)[::FRAME, 1]) == [0, 0, 0, 0, 0, 9, 0, 0]


def test_barge_in_leaves_no_unplayed_audio_in_the_file(tmp_path: Path) -> None:
    clock = _Clock()
    recorder = _recorder(tmp_path / "call.wav", clock)
    recorder.agent_sent(np.full(FRAME * 10, 9, dtype=np.int16))  # 200 ms queued
    recorder.callee_said(_frame(1))
    recorder.callee_said(_frame(1))
    clock.at_frame(2)
    recorder.agent_cleared()  # the callee talks over the agent after 40 ms
    recorder.callee_said(_frame(1))
    clock.at_frame(3)
    recorder.agent_sent(np.full(FRAME // 2, 5, dtype=np.int16))  # a short reply, half a frame
    recorder.callee_said(_frame(1))

    path = recorder.finish()

    assert path is not None
    agent = _read(path)[:, 1]
    assert (agent[: 2 * FRAME] == 9).all()
    assert (agent[2 * FRAME : 3 * FRAME] == 0).all()
    assert (agent[3 * FRAME : 3 * FRAME + FRAME // 2] == 5).all()
    assert (agent[3 * FRAME + FRAME // 2 :] == 0).all()
    assert int((agent == 9).sum()) == 2 * FRAME, "only the 40 ms that played before the clear are kept"


def test_a_clear_before_the_frames_are_read_keeps_what_had_played(tmp_path: Path) -> None:
    clock = _Clock()
    recorder = _recorder(tmp_path / "call.wav", clock)
    recorder.agent_sent(np.full(FRAME * 10, 9, dtype=np.int16))
    clock.at_frame(3)
    recorder.agent_cleared()  # 60 ms had played; no inbound frame has been read yet
    for _ in range(5):
        recorder.callee_said(_frame(1))

    path = recorder.finish()

    assert path is not None
    assert list(_read(path)[::FRAME, 1]) == [9, 9, 9, 0, 0]


def test_audio_still_queued_when_the_line_closes_is_not_written(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "call.wav")
    recorder.agent_sent(tone(440, 2.0))
    recorder.callee_said(_frame(0))

    path = recorder.finish()

    assert path is not None
    assert _read(path).shape == (FRAME, 2)


def test_a_line_that_carried_no_audio_leaves_no_file(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "call.wav")
    recorder.agent_sent(tone(440, 1.0))

    assert recorder.finish() is None
    assert list(tmp_path.iterdir()) == []


def test_a_later_attempt_replaces_the_earlier_recording(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    first = store.recorder("team", "call")
    first.callee_said(_frame(1))
    stored = store.stored_name(first.finish() or Path())
    second = store.recorder("team", "call")
    for _ in range(3):
        second.callee_said(_frame(2))
    second.finish()

    located = store.locate(stored)

    assert stored == "team/call.wav"
    assert located is not None
    assert _read(located).shape == (3 * FRAME, 2)


def test_an_abandoned_attempt_removes_its_partial_file(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "call.wav")
    recorder.callee_said(_frame(1))

    recorder.abandon()

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stored", [None, "", "../outside.wav", "/etc/passwd", "team/missing.wav", "team"])
def test_only_existing_files_inside_the_root_are_served(tmp_path: Path, stored: str | None) -> None:
    root = tmp_path / "recordings"
    (root / "team").mkdir(parents=True)
    (tmp_path / "outside.wav").write_bytes(b"RIFF")

    assert RecordingStore(root).locate(stored) is None


async def test_the_recorded_channel_reports_what_the_agent_plays_and_clears(tmp_path: Path) -> None:
    line, clock = _Line(), _Clock()
    recorder = _recorder(tmp_path / "call.wav", clock)
    channel = RecordedChannel(line, recorder)

    await channel.play(np.full(FRAME * 4, 3, dtype=np.int16))
    recorder.callee_said(_frame(0))
    clock.at_frame(1)
    await channel.clear()
    recorder.callee_said(_frame(0))
    line.closed.set()
    await channel.play(np.full(FRAME, 4, dtype=np.int16))  # after hang-up: nothing will play
    recorder.callee_said(_frame(0))
    path = recorder.finish()

    assert line.played == [FRAME * 4, FRAME] and line.clears == 1
    assert channel.closed is line.closed
    assert path is not None
    assert list(_read(path)[::FRAME, 1]) == [3, 0, 0]
