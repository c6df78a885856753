"""API benchmark: batch-create of 1000 calls and list-page latency with a large calls table.

It starts a real opencaller server (``opencaller serve``, in its own process, on a free loopback port) on a fresh
temporary database of each backend, creates a team, a number and two templates, and then talks to it over real
HTTP only, as a client would:

* ``POST /v1/phoneCalls/batch`` with 1000 calls, timed over ``--runs`` runs;
* fills the table to ``--rows`` calls through the same endpoint (and cancels 1 % of them, so that a status filter
  has something selective to find);
* ``GET /v1/phoneCalls`` pages: the first page, a deep page reached by following ``nextCursor``, and pages filtered
  by status, callTemplateId, toPhoneNumber and created range, each timed over ``--requests`` requests.

It prints the figures (p50 and p95 in milliseconds) and the machine they were measured on, and never asserts
anything. The temporary database (an SQLite file, or a PostgreSQL database created from the admin URL in
``OPENCALLER_BENCH_POSTGRES_URL``) and every temporary file are removed at the end.

    python bench/api.py --backend both --runs 10 --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from harness import CLI, running_api_server, temporary_database

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH_SIZE = 1000
NUMBER_POOL = 10_000  # distinct callee numbers: with 100,000 calls each appears 10 times
CANCEL_SHARE = 100  # one call in this many is cancelled
WARMUP = 10
BATCH_GOAL_MS = 1000.0
PAGE_GOAL_MS = 50.0

console = Console()
if not console.is_terminal:
    console = Console(width=132)  # piped into a file: wide enough for the tables


# --------------------------------------------------------------------------------------------------------------
# figures


@dataclass
class Figure:
    """One timed case: its name, the samples in milliseconds, and the p95 goal it is held to (if any)."""

    name: str
    samples: list[float]
    goal_ms: float | None = None
    note: str = ""

    @property
    def p50(self) -> float:
        """Median, in ms."""
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """95th percentile, in ms (inclusive method, so small run counts stay within the observed range)."""
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=100, method="inclusive")[94]

    @property
    def met(self) -> bool | None:
        """Whether the p95 is under the goal; ``None`` when the case has no goal."""
        return None if self.goal_ms is None else self.p95 < self.goal_ms


@dataclass
class BackendResult:
    """Everything measured on one backend."""

    backend: str
    version: str
    rows: int
    figures: list[Figure] = field(default_factory=list)
    fill_seconds: float = 0.0


def _create_team(env: dict[str, str]) -> str:
    """Create a team with ``opencaller teams create --json`` and return its API key."""
    out = subprocess.run(
        [sys.executable, "-c", CLI, "teams", "create", "Bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    key: str = json.loads(out.stdout)["apiKey"]
    return key


# --------------------------------------------------------------------------------------------------------------
# the client side


class Client:
    """A keep-alive HTTP client for one team; every call checks the status and returns the envelope."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers={"aicaller-api-key": api_key, "content-type": "application/json"},
            timeout=120,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def post(self, path: str, body: Any) -> Any:
        """POST JSON; the decoded answer."""
        return self._check(self.http.post(path, content=json.dumps(body)))

    def timed_post(self, path: str, content: bytes) -> tuple[float, Any]:
        """POST an already-encoded body; (milliseconds until the whole answer was read, decoded answer)."""
        start = time.perf_counter()
        response = self.http.post(path, content=content)
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed, self._check(response)

    def timed_get(self, path: str, params: dict[str, Any]) -> tuple[float, Any]:
        """GET; (milliseconds until the whole answer was read, decoded answer)."""
        start = time.perf_counter()
        response = self.http.get(path, params=params)
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed, self._check(response)

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.text[:2000]}")
        return response.json()


def _callee(index: int) -> str:
    return f"+1212555{index % NUMBER_POOL:04d}"


def _batch_body(templates: list[str], first: int) -> bytes:
    """1000 valid calls, numbered from ``first``: alternating templates, callee numbers cycling through the pool."""
    calls = [
        {
            "callTemplateId": templates[i % len(templates)],
            "nameOfHuman": f"Lead {i}",
            "toPhoneNumber": _callee(i),
            "promptVariableValues": [{"key": "customer_name", "value": f"Lead {i}"}],
        }
        for i in range(first, first + BATCH_SIZE)
    ]
    return json.dumps({"phoneCalls": calls}).encode()


def _time_pages(client: Client, params: dict[str, Any], requests: int) -> tuple[list[float], int]:
    """Time ``requests`` identical list requests after a short warm-up; (samples, items on the page)."""
    size = 0
    for _ in range(WARMUP):
        _, answer = client.timed_get("/v1/phoneCalls", params)
        size = len(answer["data"])
    samples = [client.timed_get("/v1/phoneCalls", params)[0] for _ in range(requests)]
    return samples, size


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def bench_backend(backend: str, args: argparse.Namespace, admin_url: str) -> BackendResult:
    """Run every case on one backend and return the figures."""
    with (
        tempfile.TemporaryDirectory(prefix="opencaller-bench-") as tmp,
        temporary_database(backend, Path(tmp), admin_url) as (url, version),
        running_api_server(url, Path(tmp)) as server,
    ):
        client = Client(server.base_url, _create_team(server.env))
        try:
            return _run_cases(client, backend, version, args)
        finally:
            client.close()


def _run_cases(client: Client, backend: str, version: str, args: argparse.Namespace) -> BackendResult:
    result = BackendResult(backend=backend, version=version, rows=0)
    client.post("/v1/phoneNumbers", {"number": "+12025550199"})
    template_body = {
        "name": "Survey",
        "firstMessage": "Hi {{customer_name}}!",
        "promptVariables": [{"key": "customer_name", "required": True}],
    }
    templates = [client.post("/v1/callTemplates", template_body)["data"]["_id"] for _ in range(2)]

    # 1. batch-create, timed
    batch_ms: list[float] = []
    fill_ms: list[float] = []
    created = 0
    cancel_ids: list[str] = []
    midpoint: str | None = None
    target = max(args.rows, args.runs * BATCH_SIZE)
    total_batches = -(-target // BATCH_SIZE)

    def one_batch() -> float:
        nonlocal created, midpoint
        elapsed, answer = client.timed_post("/v1/phoneCalls/batch", _batch_body(templates, created))
        calls = answer["data"]
        if len(calls) != BATCH_SIZE:
            raise RuntimeError(f"the batch created {len(calls)} calls, not {BATCH_SIZE}")
        cancel_ids.extend(call["_id"] for call in calls[::CANCEL_SHARE])
        if midpoint is None and created + BATCH_SIZE >= target // 2:
            midpoint = calls[-1]["createdAt"]
        created += BATCH_SIZE
        return elapsed

    with _progress() as progress:
        task = progress.add_task(f"{backend}: timed batches", total=args.runs)
        for _ in range(args.runs):
            batch_ms.append(one_batch())
            progress.advance(task)
        started = time.perf_counter()
        fill = progress.add_task(f"{backend}: filling to {target:,} calls", total=total_batches - args.runs)
        while created < target:
            fill_ms.append(one_batch())
            progress.advance(fill)
        result.fill_seconds = time.perf_counter() - started
        cancel = progress.add_task(f"{backend}: cancelling 1 in {CANCEL_SHARE}", total=len(cancel_ids))
        for call_id in cancel_ids:
            client.post(f"/v1/phoneCalls/{call_id}/cancel", None)
            progress.advance(cancel)
    result.rows = created
    result.figures.append(
        Figure(f"batch create, {BATCH_SIZE} calls", batch_ms, BATCH_GOAL_MS, f"{args.runs} runs, empty table first")
    )
    if fill_ms:
        result.figures.append(
            Figure(
                f"batch create while filling to {created:,}",
                fill_ms,
                BATCH_GOAL_MS,
                f"{len(fill_ms)} batches, {args.runs * BATCH_SIZE:,}+ rows",
            )
        )

    # 2. walk half the table with 1000-item pages to get a real deep cursor (and time those big pages)
    walk_ms: list[float] = []
    cursor: str | None = None
    walked = 0
    with _progress() as progress:
        task = progress.add_task(f"{backend}: walking to row {created // 2:,}", total=created // 2)
        while walked < created // 2:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            elapsed, answer = client.timed_get("/v1/phoneCalls", params)
            walk_ms.append(elapsed)
            walked += len(answer["data"])
            cursor = answer["pagination"]["nextCursor"]
            progress.advance(task, len(answer["data"]))
            if cursor is None:
                break
    assert midpoint is not None

    # 3. list pages, default size (100), each timed over --requests requests
    cases: list[tuple[str, dict[str, Any], bool]] = [
        ("list: first page", {}, True),
        (f"list: deep page (cursor at row {walked:,})", {"cursor": cursor}, True),
        ("list: status=queued (99 %)", {"status": "queued"}, True),
        ("list: status=cancelled (1 %)", {"status": "cancelled"}, True),
        ("list: callTemplateId (50 %)", {"callTemplateId": templates[0]}, True),
        ("list: toPhoneNumber (10 rows)", {"toPhoneNumber": _callee(4242)}, True),
        ("list: createdAfter (newest 50 %)", {"createdAfter": midpoint}, True),
        ("list: createdBefore (oldest 50 %)", {"createdBefore": midpoint}, False),
        ("list: status=cancelled + deep cursor", {"status": "cancelled", "cursor": cursor}, False),
    ]
    with _progress() as progress:
        task = progress.add_task(f"{backend}: list pages", total=len(cases))
        for name, params, goal in cases:
            samples, size = _time_pages(client, params, args.requests)
            result.figures.append(
                Figure(name, samples, PAGE_GOAL_MS if goal else None, f"{size} items, {args.requests} requests")
            )
            progress.advance(task)
    result.figures.append(Figure("list: page of 1000 (walk)", walk_ms, None, f"{len(walk_ms)} pages"))
    return result


# --------------------------------------------------------------------------------------------------------------
# report


def _load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except (OSError, AttributeError):
        return "unknown"
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


def _machine(load_before: str) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "CPU": f"{os.cpu_count()} logical cores, {cpu}",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        info["Memory"] = f"{memory / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    versions = []
    for package in ("opencaller", "fastapi", "uvicorn", "sqlalchemy", "aiosqlite", "asyncpg", "httpx"):
        with suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    info["Packages"] = ", ".join(versions)
    info["Load before"] = load_before
    info["Load after"] = _load_average()
    return info


def _goal_text(figure: Figure) -> str:
    if figure.met is None:
        return "[dim]-[/dim]"
    mark = "[green]met[/green]" if figure.met else "[red]missed[/red]"
    return f"< {figure.goal_ms:.0f} ms: {mark}"


def print_report(results: list[BackendResult], load_before: str) -> None:
    """The machine, then one table per backend, then a side-by-side summary when there are several."""
    machine = Table(title="machine", show_header=False)
    for key, value in _machine(load_before).items():
        machine.add_row(key, value)
    for result in results:
        machine.add_row(result.backend, result.version)
    console.print(machine)
    for result in results:
        table = Table(title=f"{result.backend} {result.version}: {result.rows:,} calls in the table")
        for column in ("case", "p50 ms", "p95 ms", "goal (p95)", "samples"):
            table.add_column(column, justify="right" if "ms" in column else "left")
        for figure in result.figures:
            table.add_row(figure.name, f"{figure.p50:.1f}", f"{figure.p95:.1f}", _goal_text(figure), figure.note)
        console.print(table)
        console.print(f"filling the table took {result.fill_seconds:.0f} s\n")
    if len(results) > 1:
        summary = Table(title="summary (ms)")
        summary.add_column("case")
        for result in results:
            summary.add_column(f"{result.backend} p50", justify="right")
            summary.add_column(f"{result.backend} p95", justify="right")
        for figure in results[0].figures:
            row = [figure.name]
            for result in results:
                same = [f for f in result.figures if f.name == figure.name]
                row += [f"{same[0].p50:.1f}", f"{same[0].p95:.1f}"] if same else ["-", "-"]
            summary.add_row(*row)
        console.print(summary)


def _json_report(results: list[BackendResult], load_before: str) -> dict[str, Any]:
    return {
        "machine": _machine(load_before),
        "backends": [
            {
                "backend": r.backend,
                "version": r.version,
                "rows": r.rows,
                "fillSeconds": round(r.fill_seconds, 1),
                "figures": [
                    {"name": f.name, "p50": round(f.p50, 2), "p95": round(f.p95, 2), "goal": f.goal_ms, "met": f.met}
                    for f in r.figures
                ],
            }
            for r in results
        ],
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the chosen backends one after the other, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=10, help="timed batch-create runs (default 10)")
    parser.add_argument("--rows", type=int, default=100_000, help="calls in the table for list pages")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per list case (default 200)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.requests < 1 or args.rows < 1:
        parser.error("--runs, --rows and --requests must be positive")
    admin_url = os.environ.get("OPENCALLER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    # SIGTERM unwinds like Ctrl-C, so the server is stopped and the temporary database dropped either way
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))
    load_before = _load_average()
    results = [bench_backend(backend, args, admin_url) for backend in backends]
    print_report(results, load_before)
    if args.json:
        args.json.write_text(json.dumps(_json_report(results, load_before), indent=2) + "\n")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: the server is stopped and the temporary database dropped[/yellow]")
        sys.exit(130)
