"""Ownership of the simulator's background tasks.

Every call runs as an asyncio task. The house rule is that no task is left unowned: the :class:`TaskSupervisor`
keeps a reference to each one, logs the ones that crash, and cancels and awaits them all when the app shuts down,
so a stopped simulator leaves no sockets or timers behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class TaskSupervisor:
    """Starts named tasks, keeps them alive while they run, and cancels and awaits them on :meth:`close`."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as an owned task; refuse new work once the supervisor is closing."""
        if self._closed:
            coro.close()
            raise RuntimeError("the simulator is shutting down")
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def running(self) -> int:
        """How many owned tasks are still running."""
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel every owned task and wait until all of them have finished."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
