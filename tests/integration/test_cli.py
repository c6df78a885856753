"""The ``opencaller`` command as a user runs it: teams, keys, migrate, serve."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import temporary_database


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opencaller", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return {**os.environ, "OPENCALLER_DATA_DIR": str(tmp_path), "OPENCALLER_DATABASE_URL": url}


def test_teams_and_keys_and_serve(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        env = _env(tmp_path, url)
        assert _cli("migrate", env=env).returncode == 0

        created = _cli("teams", "create", "Acme", "--json", env=env)
        assert created.returncode == 0, created.stderr
        team = json.loads(created.stdout)
        assert set(team) == {"teamId", "apiKey"}

        second = _cli("keys", "create", "--team", team["teamId"], "--json", env=env)
        assert second.returncode == 0, second.stderr
        key2 = json.loads(second.stdout)["apiKey"]
        assert key2 != team["apiKey"]

        missing = _cli("keys", "create", "--team", "000000000000000000000000", env=env)
        assert missing.returncode == 1
        assert "not found" in missing.stderr

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "opencaller", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            health = _wait_for(f"{base}/healthz")
            assert health.json() == {"status": "ok", "database": "ok"}
            for key in (team["apiKey"], key2):
                me = httpx.get(f"{base}/v1/teams/me", headers={"aicaller-api-key": key})
                assert me.json()["data"]["_id"] == team["teamId"]
        finally:
            server.terminate()
            server.wait(30)


def _wait_for(url: str) -> httpx.Response:
    """Poll a starting server until it answers (a process boundary offers no event to await)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
