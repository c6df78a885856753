"""A small opencaller deployment made of real processes on loopback, for multi-worker tests and benchmarks.

One phone-network simulator, one API node (no dispatcher) and any number of ``opencaller worker`` processes,
all sharing one PostgreSQL database and talking over HTTP, exactly as a scaled-out installation does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from opencaller.simulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

INSTANT_BUSY = """\
# Every number answers busy at once: the dispatcher, not the callee, is what is measured.
default:
  label: instant busy
  outcome: busy
  ring_seconds: 0
  sip_code: 486
"""


def cli_team_key(env: dict[str, str], name: str) -> str:
    """Create a team with the CLI, as an operator would, and return its API key."""
    made = subprocess.run(
        [sys.executable, "-m", "opencaller", "teams", "create", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key: str = json.loads(made.stdout)["apiKey"]
    return key


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll until a starting process answers ``url`` with a 2xx (a process boundary offers no event to await)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 2xx within {timeout} s")
        time.sleep(0.1)


@dataclass
class Cluster:
    """Processes of one deployment; :meth:`close` stops them all."""

    database_url: str
    workdir: Path
    simulator_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def simulator_url(self) -> str:
        """Base URL of the simulator."""
        return f"http://127.0.0.1:{self.simulator_port}"

    @property
    def api_url(self) -> str:
        """Base URL of the API node."""
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """The environment every opencaller process of this deployment shares."""
        return {
            **os.environ,
            "OPENCALLER_DATA_DIR": str(self.workdir),
            "OPENCALLER_DATABASE_URL": self.database_url,
            "OPENCALLER_SECRET_KEY": "cluster-test-secret",
            "OPENCALLER_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "OPENCALLER_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "OPENCALLER_TWILIO_API_BASE_URL": self.simulator_url,
            "OPENCALLER_PUBLIC_URL": self.api_url,
            "OPENCALLER_WEBHOOK_WORKER_ENABLED": "false",
            "OPENCALLER_LOG_LEVEL": "INFO",
            **self.extra_env,
        }

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "opencaller", *args], env=env or self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def start(self, scenarios: str = INSTANT_BUSY) -> None:
        """Start the simulator and the API node and wait until both answer."""
        scenario_file = self.workdir / "scenarios.yaml"
        scenario_file.write_text(scenarios)
        simulator = self._spawn(
            "simulator", "simulator", "--port", str(self.simulator_port), "--scenarios", str(scenario_file)
        )
        wait_for_http(f"{self.simulator_url}/_simulator/stats", simulator)
        api = self._spawn(
            "api", "serve", "--port", str(self.api_port), env={**self.env(), "OPENCALLER_DISPATCHER_ENABLED": "false"}
        )
        wait_for_http(f"{self.api_url}/healthz", api)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start one more ``opencaller worker``."""
        worker = self._spawn(f"worker-{len(self.workers) + 1}", "worker")
        self.workers.append(worker)
        return worker

    def new_team(self) -> httpx.Client:
        """A team made with the CLI, as an operator would, and an API client holding its key."""
        key = cli_team_key(self.env(), "Cluster")
        return httpx.Client(base_url=self.api_url, headers={"aicaller-api-key": key}, timeout=120)

    def simulator_stats(self) -> dict[str, Any]:
        """Dial counters as the simulator saw them."""
        stats: dict[str, Any] = httpx.get(f"{self.simulator_url}/_simulator/stats").json()
        return stats

    def worker_log(self, index: int) -> str:
        """What worker ``index`` (1-based) logged."""
        return (self.workdir / f"worker-{index}.log").read_text(errors="replace")

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def queue_calls(client: httpx.Client, count: int) -> list[str]:
    """Queue ``count`` calls to distinct numbers (+1 202 300 xxxx) and return their ids.

    The team's concurrency limit is lifted so the dispatcher, not the limit, sets the pace.
    """
    client.patch("/v1/teams/me", json={"concurrencyLimit": 10_000}).raise_for_status()
    client.post("/v1/phoneNumbers", json={"number": "+12025550199"}).raise_for_status()
    template = client.post("/v1/callTemplates", json={"name": "Load", "firstMessage": "Hi."})
    template.raise_for_status()
    template_id = template.json()["data"]["_id"]
    ids: list[str] = []
    for start in range(0, count, 1000):
        batch = [
            {"callTemplateId": template_id, "nameOfHuman": "N", "toPhoneNumber": f"+1202300{n:04d}"}
            for n in range(start, min(start + 1000, count))
        ]
        created = client.post("/v1/phoneCalls/batch", json={"phoneCalls": batch})
        created.raise_for_status()
        ids += [c["_id"] for c in created.json()["data"]]
    return ids


def count_with_status(client: httpx.Client, status: str) -> int:
    """How many of the team's calls have ``status`` (walking every page)."""
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"status": status, "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/phoneCalls", params=params).json()
        total += len(body["data"])
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            return total
