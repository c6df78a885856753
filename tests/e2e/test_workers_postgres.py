"""Several worker processes on one PostgreSQL database: every call is dialled exactly once, even when a worker
is killed mid-dial."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import Cluster, count_with_status, queue_calls
from tests.e2e.conftest import wait_until
from tests.support import temporary_database

CALLS = 1000


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Simulator + API node on a fresh PostgreSQL database; workers are started by the test.

    The reconciliation deadline is shortened from 120 s to 30 s so the killed worker's unsent dials are retried
    soon; it must still exceed the time callbacks take to arrive under this load, or a dial that did reach the
    simulator would be placed again.
    """
    with temporary_database("postgresql", tmp_path) as url:
        deployment = Cluster(
            database_url=url, workdir=tmp_path, extra_env={"OPENCALLER_DISPATCHER_RECONCILE_SECONDS": "30"}
        )
        try:
            deployment.start()
            yield deployment
        finally:
            deployment.close()


def _all_busy(client: httpx.Client) -> None:
    wait_until(lambda: count_with_status(client, "busy") == CALLS, "every call to end busy", timeout=300)


def test_two_workers_racing_dial_each_call_once(cluster: Cluster) -> None:
    client = cluster.new_team()
    queue_calls(client, CALLS)
    cluster.start_worker()
    cluster.start_worker()

    _all_busy(client)

    stats = cluster.simulator_stats()
    assert stats["total_dials"] == CALLS
    assert set(stats["dials"].values()) == {1}
    assert all(cluster.worker_log(i).count("dialled") > 0 for i in (1, 2)), "both workers should have dialled"


def test_a_worker_killed_mid_dial_loses_no_call_and_dials_none_twice(cluster: Cluster) -> None:
    client = cluster.new_team()
    queue_calls(client, CALLS)
    first = cluster.start_worker()
    wait_until(lambda: cluster.simulator_stats()["total_dials"] >= 200, "the first worker to be busy dialling")
    first.kill()  # SIGKILL: no clean-up, dials in flight
    first.wait(10)
    dialled_when_killed = cluster.simulator_stats()["total_dials"]
    assert dialled_when_killed < CALLS, "the worker should have been killed before finishing"
    cluster.start_worker()

    _all_busy(client)

    stats = cluster.simulator_stats()
    assert stats["total_dials"] == CALLS
    assert set(stats["dials"].values()) == {1}
