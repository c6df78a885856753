"""The ``opencaller`` command: serve, migrate, teams, keys (and the engine's commands as they land)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from opencaller.app import create_app
from opencaller.engine.teams import create_api_key, create_team
from opencaller.errors import OpenCallerError
from opencaller.logs import configure_logging
from opencaller.settings import Settings, load_settings
from opencaller.store.db import Database
from opencaller.store.migrate import upgrade

app = typer.Typer(help="opencaller: an open-source AI phone-calling platform.", no_args_is_help=True)
teams_app = typer.Typer(help="Manage teams.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(teams_app, name="teams")
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Overrides OPENCALLER_DATA_DIR.")]


def _settings(data_dir: Path | None) -> Settings:
    return load_settings(data_dir=data_dir) if data_dir else load_settings()


async def _migrated(settings: Settings) -> Database:
    db = Database(settings.resolved_database_url)
    await upgrade(db)
    return db


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: DataDir = None,
) -> None:
    """Run the API server (creates or migrates the database on start)."""
    settings = _settings(data_dir)
    if settings.public_url is None:
        settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


@app.command()
def worker(data_dir: DataDir = None) -> None:
    """Run a worker: dial due calls and deliver webhooks (several may share one PostgreSQL database)."""
    from opencaller.runtime import run_worker

    settings = _settings(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    if settings.public_url is None:
        console.print("[red]error:[/red] set OPENCALLER_PUBLIC_URL to the API nodes' public base URL")
        raise typer.Exit(code=2)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, stop)

    asyncio.run(main())


@app.command()
def simulator(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    scenarios: Annotated[Path | None, typer.Option(help="Scenario YAML (default: the built-in callees).")] = None,
) -> None:
    """Run the phone-network simulator on its own port (it speaks Twilio's REST, callbacks and Media Streams)."""
    from opencaller.simulator import SimulatorConfig, create_simulator_app

    config = SimulatorConfig(host=host, port=port, scenario_file=scenarios)
    console.print(
        f"simulator on {config.base_url}: point OPENCALLER_TWILIO_API_BASE_URL there, with account SID"
        f" {config.account_sid} and auth token {config.auth_token!r}"
    )
    uvicorn.run(create_simulator_app(config), host=host, port=port, log_level="warning")


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Bring the database to the newest schema."""
    settings = _settings(data_dir)

    async def run() -> None:
        db = await _migrated(settings)
        await db.dispose()

    asyncio.run(run())
    console.print(f"database is up to date: {_safe_url(settings.resolved_database_url)}")


@app.command()
def demo(data_dir: DataDir = None) -> None:
    """Start everything embedded, drive it through the API as a client would, and print the result."""
    from opencaller.demo import run_demo

    configure_logging("WARNING")
    record = asyncio.run(run_demo(data_dir, Console()))
    if record.get("status") != "completed":
        raise typer.Exit(code=1)


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="The team's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {teamId, apiKey} as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a team and its first API key (shown once)."""
    settings = _settings(data_dir)

    async def run() -> tuple[str, str]:
        db = await _migrated(settings)
        try:
            async with db.transaction() as session:
                team, key = await create_team(session, name)
                return team.id, key.plain
        finally:
            await db.dispose()

    team_id, plain = _run_or_exit(run())
    _print_key(team_id, plain, as_json)


@keys_app.command("create")
def keys_create(
    team: Annotated[str, typer.Option("--team", help="The team's id.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print {teamId, apiKey} as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create another API key for a team (shown once)."""
    settings = _settings(data_dir)

    async def run() -> tuple[str, str]:
        db = await _migrated(settings)
        try:
            async with db.transaction() as session:
                created = await create_api_key(session, team, name)
                return team, created.plain
        finally:
            await db.dispose()

    team_id, plain = _run_or_exit(run())
    _print_key(team_id, plain, as_json)


def _run_or_exit(coro: object) -> tuple[str, str]:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except OpenCallerError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from exc


def _print_key(team_id: str, plain: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"teamId": team_id, "apiKey": plain}))
    else:
        typer.echo(f"team:    {team_id}\napi key: {plain}  (shown once: keep it safe)")


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    """Entry point of the ``opencaller`` script."""
    app()
