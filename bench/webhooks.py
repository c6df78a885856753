"""Webhook benchmark: deliveries per second to a local receiver, and the delay from state change to delivery.

It starts a real opencaller server (``opencaller serve`` in its own process, on a free loopback port, telephony off
so calls stay where the API puts them) on a fresh temporary database of each backend, and a minimal HTTP receiver in
this process on another loopback port. A team subscribes to every event, then:

* **burst**: ``--calls`` calls are created through ``POST /v1/phoneCalls/batch`` (1000 per request) as fast as the
  API takes them, each queueing one signed ``phoneCall.queued`` delivery; the figure is deliveries per second from
  the first request to the last delivery received, with the server's default worker settings;
* **trickle**: ``--trickle`` calls are created one at a time (one every ``--gap-ms``) and each delivery's delay is
  measured from the call's ``updatedAt`` (the state change, written in the same transaction as the outbox row) to
  the moment the receiver has read the request; p50, p95 and max are printed.

Only loopback is used. Figures are printed, never asserted. Temporary databases and files are removed at the end.

    python bench/webhooks.py --backend both --calls 5000 --trickle 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from harness import free_port, temporary_database

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 1000


@dataclass
class Receiver:
    """A bare HTTP/1.1 receiver: reads each request, notes when it was fully read, answers 204."""

    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` requests have arrived (callers bound it with ``asyncio.timeout``)."""
        while len(self.arrivals) < count:
            self.changed.clear()
            await self.changed.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            self.arrivals.append((time.time(), body))
            self.changed.set()
            writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``opencaller serve`` on a free port, once it answers ``/healthz``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "opencaller", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("opencaller serve did not start")


def parse_ts(value: str) -> float:
    """Unix seconds of a wire timestamp."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run both measurements on a fresh database of ``backend`` and return the figures."""
    with tempfile.TemporaryDirectory(prefix="oc-bench-hooks-") as tmp_name:
        tmp = Path(tmp_name)
        with temporary_database(backend, tmp, args.postgres_url) as (url, _version):
            return asyncio.run(run_server(tmp, url, args))


async def run_server(tmp: Path, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start the receiver and the server on database ``url``, measure, stop both."""
    receiver = Receiver()
    await receiver.start()
    env = {
        **os.environ,
        "OPENCALLER_DATA_DIR": str(tmp),
        "OPENCALLER_DATABASE_URL": url,
        "OPENCALLER_SECRET_KEY": "bench",
        "OPENCALLER_WEBHOOKS_ALLOW_PRIVATE": "true",
        "OPENCALLER_TELEPHONY": "none",
        "OPENCALLER_LOG_LEVEL": "WARNING",
    }
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "opencaller", "teams", "create", "Bench", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(made.stdout)["apiKey"]
    process, base = await asyncio.to_thread(start_server, env)
    try:
        async with httpx.AsyncClient(base_url=base, headers={"aicaller-api-key": key}, timeout=120) as http:
            return await measure(http, receiver, args)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
        await receiver.close()


async def measure(http: httpx.AsyncClient, receiver: Receiver, args: argparse.Namespace) -> dict[str, Any]:
    """The burst and trickle measurements against a running server."""
    (await http.post("/v1/phoneNumbers", json={"number": "+12025550199"})).raise_for_status()
    template = (await http.post("/v1/callTemplates", json={"name": "Bench", "firstMessage": "Hi"})).json()["data"]
    url = f"http://127.0.0.1:{receiver.port}/hook"
    (await http.post("/v1/webhooks", json={"url": url, "events": ["*"]})).raise_for_status()
    body = {"callTemplateId": template["_id"], "nameOfHuman": "Bench", "toPhoneNumber": "+12025550100"}

    started = time.time()
    for offset in range(0, args.calls, BATCH):
        size = min(BATCH, args.calls - offset)
        (await http.post("/v1/phoneCalls/batch", json={"phoneCalls": [body] * size})).raise_for_status()
    created = time.time()
    async with asyncio.timeout(600):
        await receiver.wait_for(args.calls)
    finished = max(at for at, _ in receiver.arrivals[: args.calls])
    burst_rate = args.calls / (finished - started)

    before = len(receiver.arrivals)
    for _ in range(args.trickle):
        (await http.post("/v1/phoneCalls", json=body)).raise_for_status()
        await asyncio.sleep(args.gap_ms / 1000)
    async with asyncio.timeout(600):
        await receiver.wait_for(before + args.trickle)
    delays = [
        (at - parse_ts(json.loads(payload)["data"]["updatedAt"])) * 1000 for at, payload in receiver.arrivals[before:]
    ]
    return {
        "burst_deliveries": args.calls,
        "burst_create_s": created - started,
        "burst_total_s": finished - started,
        "burst_per_s": burst_rate,
        "trickle": args.trickle,
        "delay_p50_ms": statistics.median(delays),
        "delay_p95_ms": percentile(delays, 0.95),
        "delay_max_ms": max(delays),
    }


def main() -> None:
    """Parse arguments, run the chosen backends, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--calls", type=int, default=2000, help="deliveries in the burst")
    parser.add_argument("--trickle", type=int, default=200, help="calls created one at a time for the delay")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between trickle calls")
    parser.add_argument("--postgres-url", default=os.environ.get("OPENCALLER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'backend':<11} {'burst':>7} {'deliveries/s':>13} {'trickle':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for backend in backends:
        figures = run_backend(backend, args)
        print(
            f"{backend:<11} {figures['burst_deliveries']:>7} {figures['burst_per_s']:>13.0f} {figures['trickle']:>8}"
            f" {figures['delay_p50_ms']:>8.1f} {figures['delay_p95_ms']:>8.1f} {figures['delay_max_ms']:>8.1f}"
        )
        print(
            f"{'':<11} (burst: API took {figures['burst_create_s']:.2f} s to create the calls,"
            f" the last delivery arrived after {figures['burst_total_s']:.2f} s)"
        )


if __name__ == "__main__":
    main()
