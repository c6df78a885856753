"""Resource ids: 24 lowercase hex characters, ObjectId-style and time-ordered.

Layout (12 bytes): 4 bytes of Unix seconds, 5 random bytes chosen once per process, 3 bytes of a counter that
starts at a random value. Ids made later sort after earlier ones (to the second), ids from one process are strictly
increasing, and two processes never collide. Clients that decode a Mongo ObjectId's timestamp still can.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time

_ID_RE = re.compile(r"^[0-9a-f]{24}$")


class _IdFactory:
    """Makes ids for one process; thread-safe."""

    def __init__(self) -> None:
        self._process_bytes = os.urandom(5)
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
        self._lock = threading.Lock()

    def new(self, now: float | None = None) -> str:
        seconds = int(time.time() if now is None else now)
        with self._lock:
            count = next(self._counter) & 0xFFFFFF
        raw = seconds.to_bytes(4, "big") + self._process_bytes + count.to_bytes(3, "big")
        return raw.hex()


_factory = _IdFactory()


def new_id(now: float | None = None) -> str:
    """A fresh 24-hex id; ``now`` (Unix seconds) only for tests and backfills."""
    return _factory.new(now)


def is_valid_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id (24 lowercase hex characters)."""
    return bool(_ID_RE.match(value))
