"""What the API benchmarks share: a throwaway database and an ``opencaller serve`` process on loopback.

The server runs in its own process, as in production, with telephony and the dispatcher off so that nothing
dials the calls the benchmarks create while they measure the API.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

CLI = "from opencaller.cli import main; main()"


@contextmanager
def temporary_database(backend: str, tmp_dir: Path, admin_url: str) -> Iterator[tuple[str, str]]:
    """Yield (async SQLAlchemy URL, server version) of a fresh, empty database; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / 'bench.db'}", sqlite3.sqlite_version
        return
    name = "oc_bench_" + secrets.token_hex(6)

    async def admin(sql: str) -> str:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    version = asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}", version
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ApiServer:
    """A running ``opencaller serve``: where it listens, the environment it was given, and its pid."""

    base_url: str
    env: dict[str, str]
    pid: int


@contextmanager
def running_api_server(database_url: str, tmp_dir: Path) -> Iterator[ApiServer]:
    """Run ``opencaller serve`` in its own process on a free loopback port until the block ends."""
    env = {
        **os.environ,
        "OPENCALLER_DATABASE_URL": database_url,
        "OPENCALLER_DATA_DIR": str(tmp_dir / "data"),
        "OPENCALLER_LOG_LEVEL": "WARNING",
        "OPENCALLER_TELEPHONY": "none",
        "OPENCALLER_DISPATCHER_ENABLED": "false",
    }
    port = free_port()
    log_path = tmp_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark only, which then stops the server in order
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(base_url, proc, log_path)
            yield ApiServer(base_url, env, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited while starting:\n" + log_path.read_text(errors="replace")[-4000:])
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy within 90 s")
