"""Dispatcher throughput: dials per second with 1 and 2 worker processes on PostgreSQL.

A real deployment on loopback (see ``tests/cluster.py``): the phone-network simulator with callees that answer
busy at once, an API node receiving the provider callbacks, and ``opencaller worker`` processes sharing one
PostgreSQL database. ``--calls`` calls are queued before the workers start; the clock runs from the first
worker's start until the simulator has counted every dial. It prints figures and asserts nothing.

    python bench/dispatch.py --calls 2000

Everything runs on the same machine, so the simulator, the API node and PostgreSQL compete with the workers for
the same cores: the figures are a floor for what the dispatcher alone can do.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster import Cluster, queue_calls
from tests.support import temporary_database


def measure(workers: int, calls: int) -> tuple[float, int]:
    """Seconds to dial ``calls`` calls with ``workers`` workers, and how many dials the simulator counted."""
    with tempfile.TemporaryDirectory(prefix="opencaller-bench-") as scratch:
        workdir = Path(scratch)
        with temporary_database("postgresql", workdir) as url:
            cluster = Cluster(database_url=url, workdir=workdir)
            try:
                cluster.start()
                client = cluster.new_team()
                queue_calls(client, calls)
                started = time.perf_counter()
                for _ in range(workers):
                    cluster.start_worker()
                deadline = started + 600
                dials = 0
                while dials < calls and time.perf_counter() < deadline:
                    time.sleep(0.05)
                    dials = int(cluster.simulator_stats()["total_dials"])
                return time.perf_counter() - started, dials
            finally:
                cluster.close()


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}")
    print(f"{args.calls} queued calls, callees answer busy at once (worker start-up time included)")
    print(f"{'workers':>8} {'seconds':>9} {'dials':>7} {'dials/s':>9}")
    for workers in (1, 2):
        seconds, dials = measure(workers, args.calls)
        print(f"{workers:>8} {seconds:>9.1f} {dials:>7} {dials / seconds:>9.0f}")


if __name__ == "__main__":
    main()
