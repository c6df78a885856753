"""Test support: real databases (a temporary SQLite file, a throwaway PostgreSQL database) and a live server.

The API tests talk to a real uvicorn server over loopback HTTP, exactly as a client would.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
from collections.abc import Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI

try:  # newer FastAPI nests included routers in app.routes; this walks into them
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI lists every route flat
    iter_route_contexts = None  # type: ignore[assignment]

from opencaller.app import create_app
from opencaller.engine.teams import create_team
from opencaller.settings import Settings
from opencaller.store.db import Database

COOPERATIVE_CALLEE_COLUMNS = [
    {"columnName": "name", "description": "name", "question": "May I have your full name, please?"},
    {"columnName": "city", "description": "city", "question": "Which city do you live in?"},
    {"columnName": "email", "description": "email address", "question": "What is your email address?"},
    {"columnName": "interest", "description": "interest", "question": "What are you interested in?"},
    {
        "columnName": "followUp",
        "description": "follow-up call",
        "type": "boolean",
        "question": "Is it okay if we give you a follow-up call?",
    },
]
"""The result columns the simulator's cooperative callee (+12025550100) answers: its five-question conversation."""

T = TypeVar("T")

POSTGRES_ADMIN_URL = os.environ.get("OPENCALLER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def temporary_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield an async SQLAlchemy URL of an empty database of ``backend``; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / 'opencaller-test.db'}"
        return
    name = "oc_test_" + secrets.token_hex(6)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def running_server(backend: str, tmp_dir: Path, **settings: Any) -> Iterator[LiveServer]:
    """A live server on a fresh database of ``backend``, stopped and dropped when the block ends.

    ``settings`` override the test defaults (a fixed secret key; the data dir is ``tmp_dir``).
    """
    with temporary_database(backend, tmp_dir) as url:
        live = LiveServer(Settings(data_dir=tmp_dir, database_url=url, **{"secret_key": "test-secret", **settings}))
        live.start()
        try:
            yield live
        finally:
            live.stop()


@contextmanager
def scripted_agent_server(tmp_dir: Path, **settings: Any) -> Iterator[LiveServer]:
    """A calling node on SQLite that dials the embedded simulator and answers with the scripted conversational
    agent (offline Whisper and Piper, loaded once at start); ``settings`` add to or override its defaults."""
    defaults = {"ring_timeout_seconds": 5, "webhook_worker_enabled": False, "agent": "scripted"}
    with running_server("sqlite", tmp_dir, **{**defaults, **settings}) as live:
        yield live


@dataclass
class LiveServer:
    """An opencaller API server running in a background thread on a free loopback port."""

    settings: Settings
    base_url: str = ""
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _server: uvicorn.Server | None = None

    def start(self) -> None:
        """Bind a socket, start uvicorn on it, and wait until the app has finished starting (migrations run)."""
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP; without it every
        # response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        if self.settings.public_url is None:
            self.settings = self.settings.model_copy(update={"public_url": self.base_url})
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            assert self._server is not None
            task = self._loop.create_task(self._server.serve(sockets=[sock]))
            self._loop.call_soon(_when_started, self._server, started, self._loop)
            self._loop.run_until_complete(task)

        self._thread = threading.Thread(target=run, name="live-server", daemon=True)
        self._thread.start()
        if not started.wait(60):
            raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's own event loop (to use its database handle) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    @property
    def db(self) -> Database:
        """The server's database handle."""
        db: Database = self.app.state.services.db
        return db

    def new_team(self, name: str = "Team") -> TeamClient:
        """Create a team (as `opencaller teams create` does) and return an authenticated client for it."""

        async def make() -> tuple[str, str]:
            async with self.db.transaction() as session:
                team, key = await create_team(session, name)
                return team.id, key.plain

        team_id, key = self.run(make())
        client = httpx.Client(
            base_url=self.base_url,
            headers={"aicaller-api-key": key},
            timeout=60,
            event_hooks={"response": [refuse_stack_traces]},
        )
        return TeamClient(team_id=team_id, api_key=key, http=client)

    def new_caller_team(self, name: str = "Team") -> TeamClient:
        """A fresh team with a caller-ID number (its default), ready to place calls."""
        team = self.new_team(name)
        team.add_number()
        return team

    def add_rows(self, *rows: Any) -> None:
        """Insert ORM objects in one transaction on the server's database (for state the API cannot create)."""

        async def insert() -> None:
            async with self.db.transaction() as session:
                session.add_all(rows)

        self.run(insert())


def api_endpoints(app: FastAPI, prefix: str = "/v1") -> set[tuple[str, str]]:
    """Every (method, path template) the app serves under ``prefix``, including the routes of included routers."""
    entries: Iterable[Any] = iter_route_contexts(app.routes) if iter_route_contexts is not None else app.routes
    return {
        (method, entry.path)
        for entry in entries
        if (getattr(entry, "path", None) or "").startswith(prefix)
        for method in (getattr(entry, "methods", None) or ())
        if method != "HEAD"
    }


def refuse_stack_traces(response: httpx.Response) -> None:
    """httpx response hook: no answer of the API may ever carry a Python stack trace."""
    response.read()
    assert "Traceback" not in response.text, f"{response.request.method} {response.request.url}: {response.text}"


def _when_started(server: uvicorn.Server, event: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
    if server.started:
        event.set()
    else:
        loop.call_later(0.01, _when_started, server, event, loop)


@dataclass
class TeamClient:
    """An HTTP client holding one team's API key, with shortcuts for the setup most tests need."""

    team_id: str
    api_key: str
    http: httpx.Client

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """POST JSON."""
        return self.http.post(path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.http.get(path, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """PATCH JSON."""
        return self.http.patch(path, json=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """PUT JSON."""
        return self.http.put(path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE."""
        return self.http.delete(path, **kwargs)

    def data(self, response: httpx.Response, status: int = 200) -> Any:
        """Assert the status code and return the envelope's ``data``."""
        assert response.status_code == status, response.text
        return response.json()["data"]

    def add_number(self, number: str = "+12025550199", **fields: Any) -> dict[str, Any]:
        """Add a caller-ID number (the team's first becomes its default)."""
        return self.data(self.post("/v1/phoneNumbers", {"number": number, **fields}))  # type: ignore[no-any-return]

    def add_template(self, **fields: Any) -> dict[str, Any]:
        """Create a template with one required variable, ``customer_name``, unless fields say otherwise."""
        body = {
            "name": "Survey",
            "firstMessage": "Hi {{customer_name}}!",
            "promptVariables": [{"key": "customer_name", "required": True}],
            **fields,
        }
        return self.data(self.post("/v1/callTemplates", body))  # type: ignore[no-any-return]

    def call_body(self, template_id: str, **fields: Any) -> dict[str, Any]:
        """A valid create-call body for ``template_id``."""
        return {
            "callTemplateId": template_id,
            "nameOfHuman": "John",
            "toPhoneNumber": "+12025550100",
            "promptVariableValues": [{"key": "customer_name", "value": "John"}],
            **fields,
        }
