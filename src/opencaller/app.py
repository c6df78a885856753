"""The composition root: builds the services from the settings and mounts every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from opencaller import __version__, dashboard
from opencaller.api.deps import Services
from opencaller.api.errors import install_error_handlers
from opencaller.api.limits import BodySizeLimit
from opencaller.api.routers import (
    call_templates,
    do_not_call,
    files,
    health,
    phone_calls,
    phone_numbers,
    teams,
    telephony,
    transcripts,
    webhooks,
)
from opencaller.engine.credentials import CredentialCipher
from opencaller.engine.webhook_worker import WebhookDeliveryWorker, WorkerConfig
from opencaller.runtime import node_calls
from opencaller.settings import Settings
from opencaller.simulator import load_scenarios
from opencaller.store.db import Database
from opencaller.store.migrate import upgrade

DESCRIPTION = """\
opencaller's REST API, wire-compatible with the aicaller.io v1 API: point an aicaller client at this server and
use an opencaller key.

* Authenticate with the `aicaller-api-key` header (or `Authorization: Bearer <key>`).
* Successes answer `{"data": ...}`; lists add `{"pagination": {"limit", "nextCursor"}}`.
* Errors answer `{"error": {"code", "message", "details"}}` with 400, 401, 404, 409 or 413.
"""


def create_app(settings: Settings, *, database: Database | None = None, migrate: bool = True) -> FastAPI:
    """Build the ASGI app. ``migrate`` brings the database to the newest schema at startup."""
    db = database or Database(settings.resolved_database_url)
    services = Services(settings=settings, db=db, cipher=CredentialCipher.from_settings(settings))
    worker = WebhookDeliveryWorker(db, services.cipher, WorkerConfig.from_settings(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await upgrade(db)
        if settings.webhook_worker_enabled:
            await worker.start()
        try:
            if settings.telephony == "none":
                yield
            else:
                async with node_calls(settings, db, run_dispatcher=settings.dispatcher_enabled) as node:
                    services.calls = node.runtime
                    app.state.node_calls = node
                    yield
                    services.calls = None
        finally:
            await worker.stop()
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="opencaller API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    app.state.services = services
    app.state.webhook_worker = worker
    install_error_handlers(app)
    for module in (
        phone_calls, call_templates, phone_numbers, teams, do_not_call, files, transcripts, webhooks, telephony,
        health,
    ):  # fmt: skip
        app.include_router(module.router)
    dashboard.mount(
        app, dashboard.DashboardContext(settings, db, services.cipher, lambda: simulator_callees(app, settings))
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        overrides={"/v1/files": settings.max_upload_bytes, "/dashboard/files": settings.max_upload_bytes},
    )
    return app


def simulator_callees(app: FastAPI, settings: Settings) -> list[dashboard.SimulatedCallee]:
    """The embedded simulator's scripted callees while it runs (the dashboard offers them for test calls)."""
    node = getattr(app.state, "node_calls", None)
    if node is None or node.simulator_url is None:
        return []
    book = load_scenarios(settings.simulator_scenario_file)
    return [
        dashboard.SimulatedCallee(number, callee.label, callee.description)
        for number, callee in sorted(book.numbers.items())
    ]
