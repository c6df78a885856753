"""Lead-list import benchmark: upload a 100,000-row CSV to a real server and measure rows per second and memory.

For each backend it starts ``opencaller serve`` in its own process on a free loopback port, on a fresh temporary
database, with telephony and the dispatcher off (nothing dials the imported calls). It creates a team
(``opencaller teams create``), a caller number and a template, writes a CSV of ``--rows`` distinct leads (name,
phone written nationally with ``defaultRegion=US``, email, two variable columns) and then, over real HTTP:

* ``POST /v1/files`` with the file, timed from the first byte sent to the whole answer read, ``--runs`` times
  (each run on a fresh team, so the "already queued" check always finds its rows absent);
* ``GET /v1/files/{id}/results.csv`` of the last import, timed to the last byte.

The server's memory is read from ``/proc/<pid>/status`` (Linux): ``VmRSS`` once it is up, and ``VmHWM`` (its peak
resident size since start) after the imports. It prints the figures and the machine, and asserts nothing.

    python bench/import.py --backend both --rows 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from harness import CLI, running_api_server, temporary_database

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AREAS = (202, 212, 213, 305, 312, 404, 415, 503, 617, 718)
GOAL_SECONDS = 20.0
GOAL_MB = 300.0

console = Console()
if not console.is_terminal:
    console = Console(width=132)


@dataclass
class Result:
    """What one backend measured."""

    backend: str
    version: str
    rows: int
    import_seconds: list[float] = field(default_factory=list)
    export_seconds: float = 0.0
    accepted: int = 0
    rss_idle_mb: float = 0.0
    rss_peak_mb: float = 0.0
    file_mb: float = 0.0

    @property
    def median_seconds(self) -> float:
        """The median import time."""
        return statistics.median(self.import_seconds)


def write_leads(path: Path, rows: int) -> None:
    """A CSV of ``rows`` distinct, valid US numbers written nationally, with a name, an email and two variables."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Name,Phone,Email,customer_name,City\r\n")
        for i in range(rows):
            area = AREAS[i % len(AREAS)]
            exchange = 200 + (i // len(AREAS)) // 10_000
            line = (i // len(AREAS)) % 10_000
            out.write(f'"Lead {i}, Jr.",({area}) {exchange}-{line:04d},lead{i}@example.com,Lead {i},Springfield\r\n')


def _memory_mb(pid: int, field_name: str) -> float:
    """``VmRSS`` or ``VmHWM`` of a process, in MB (0 where /proc is not available)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _new_team(base_url: str, env: dict[str, str]) -> tuple[httpx.Client, str]:
    """A team with a number and a template; an authenticated client and the template id."""
    out = subprocess.run(
        [sys.executable, "-c", CLI, "teams", "create", "Bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    key = json.loads(out.stdout)["apiKey"]
    client = httpx.Client(base_url=base_url, headers={"aicaller-api-key": key}, timeout=600)
    client.post("/v1/phoneNumbers", json={"number": "+12025550199"}).raise_for_status()
    template = client.post(
        "/v1/callTemplates",
        json={
            "name": "Bench",
            "firstMessage": "Hi {{customer_name}} from {{City}}",
            "promptVariables": [{"key": "customer_name"}, {"key": "City", "required": False}],
            "resultColumns": [{"columnName": "interest"}],
        },
    )
    template.raise_for_status()
    return client, str(template.json()["data"]["_id"])


def run_backend(backend: str, rows: int, runs: int, admin_url: str, csv_path: Path) -> Result:
    """Measure one backend on its own fresh database and server."""
    with tempfile.TemporaryDirectory(prefix="oc-bench-import-") as tmp:
        tmp_dir = Path(tmp)
        with temporary_database(backend, tmp_dir, admin_url) as (url, version):
            result = Result(backend, version, rows, file_mb=csv_path.stat().st_size / 1e6)
            with running_api_server(url, tmp_dir) as server:
                base_url, env, pid = server.base_url, server.env, server.pid
                result.rss_idle_mb = _memory_mb(pid, "VmRSS")
                file_id = ""
                for run in range(runs):
                    client, template_id = _new_team(base_url, env)
                    with csv_path.open("rb") as upload:
                        started = time.perf_counter()
                        response = client.post(
                            "/v1/files",
                            files={"file": ("leads.csv", upload, "text/csv")},
                            data={"callTemplateId": template_id, "defaultRegion": "US"},
                        )
                        elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    body = response.json()["data"]
                    result.accepted = int(body["acceptedCount"])
                    file_id = str(body["_id"])
                    result.import_seconds.append(elapsed)
                    console.print(f"  {backend} run {run + 1}: {elapsed:.2f} s, {body['acceptedCount']} accepted")
                started = time.perf_counter()
                size = 0
                with client.stream("GET", f"/v1/files/{file_id}/results.csv") as stream:
                    for chunk in stream.iter_bytes():
                        size += len(chunk)
                result.export_seconds = time.perf_counter() - started
                result.rss_peak_mb = _memory_mb(pid, "VmHWM")
            return result


def main() -> None:
    """Parse the arguments, run the backends, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    admin_url = os.environ.get("OPENCALLER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    console.print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="oc-bench-leads-") as tmp:
        csv_path = Path(tmp) / "leads.csv"
        write_leads(csv_path, args.rows)
        for backend in backends:
            results.append(run_backend(backend, args.rows, args.runs, admin_url, csv_path))
    table = Table(title=f"Lead-list import: {args.rows:,} rows, POST /v1/files over HTTP")
    for column in ("backend", "file", "import p50", "rows/s", "export", "server RSS idle", "server RSS peak", "goals"):
        table.add_column(column, justify="right")
    for r in results:
        met = r.median_seconds < GOAL_SECONDS and r.rss_peak_mb < GOAL_MB
        table.add_row(
            f"{r.backend} {r.version}",
            f"{r.file_mb:.1f} MB",
            f"{r.median_seconds:.2f} s",
            f"{r.rows / r.median_seconds:,.0f}",
            f"{r.export_seconds:.2f} s",
            f"{r.rss_idle_mb:.0f} MB",
            f"{r.rss_peak_mb:.0f} MB",
            "met" if met else "MISSED",
        )
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ | {"median_seconds": r.median_seconds} for r in results], indent=2))


if __name__ == "__main__":
    main()
