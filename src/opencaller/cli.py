"""The ``opencaller`` command: serve, migrate, teams, keys (and the engine's commands as they land)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Coroutine
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

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
calls_app = typer.Typer(help="Import lead lists and export call results.", no_args_is_help=True)
app.add_typer(calls_app, name="calls")
console = Console(stderr=True)
T = TypeVar("T")

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


MAP_TARGETS = {"phone": "phone_column", "name": "name_column", "email": "email_column"}


def _column_options(mappings: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``--map`` values (``phone=Mobile``, ``customer_name=First name``) as the import's column options and its
    variable columns."""
    columns: dict[str, str] = {}
    variables: dict[str, str] = {}
    for mapping in mappings:
        key, sep, column = mapping.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise typer.BadParameter(f"{mapping!r}: write KEY=COLUMN, e.g. phone=Mobile", param_hint="--map")
        target = MAP_TARGETS.get(key.strip())
        if target is not None:
            columns[target] = column.strip()
        else:
            variables[key.strip()] = column.strip()
    return columns, variables


@calls_app.command("import")
def calls_import(
    path: Annotated[Path, typer.Argument(help="The CSV lead list.", exists=True, dir_okay=False, readable=True)],
    template: Annotated[str, typer.Option("--template", help="The call template's id (its team gets the calls).")],
    mappings: Annotated[
        list[str] | None,
        typer.Option("--map", help="KEY=COLUMN: phone, name, email, or a prompt variable's key. Repeatable."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Country of numbers written without +code, e.g. US.")
    ] = None,
    phone_number_id: Annotated[str | None, typer.Option("--phone-number-id", help="Call from this number.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the File as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Queue one call per valid row of a CSV file, with a progress bar, and print the report."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from opencaller.engine import files

    columns, variables = _column_options(mappings or [])
    settings = _settings(data_dir)
    options = files.ImportOptions(
        call_template_id=template,
        file_name=path.name,
        default_region=region.upper() if region else None,
        phone_number_id=phone_number_id,
        variable_columns=variables,
        phone_column=columns.get("phone_column"),
        name_column=columns.get("name_column"),
        email_column=columns.get("email_column"),
    )

    async def run() -> dict[str, object]:
        db = await _migrated(settings)
        try:
            with (
                Progress(
                    TextColumn("importing {task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TextColumn("{task.fields[rows]:,} rows"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                ) as progress,
                path.open("rb") as raw,
            ):
                task = progress.add_task(path.name, total=path.stat().st_size, rows=0)

                def advance(rows: int, done: int) -> None:
                    progress.update(task, completed=done, rows=rows)

                async with db.transaction() as session:
                    team_id = await files.team_of_template(session, template)
                    lead_file = await files.import_file(session, team_id, raw, options, on_progress=advance)
                    return files.file_view(lead_file)
        finally:
            await db.dispose()

    report = _run_or_exit(run())
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    from rich.table import Table

    out = Console()
    out.print(
        f"file {report['_id']} ({report['fileName']}): {report['rowCount']} rows,"
        f" [green]{report['acceptedCount']} calls queued[/green], [red]{report['rejectedCount']} rejected[/red]",
        soft_wrap=True,
    )
    rejected = report["rejectedRows"]
    if rejected:
        table = Table("row", "reason")
        for item in rejected[:20]:
            table.add_row(str(item["row"]), item["reason"])
        out.print(table)
        if report["rejectedCount"] > 20:
            out.print(f"... and {report['rejectedCount'] - 20} more (GET /v1/files/{report['_id']} lists the first)")


@calls_app.command("export")
def calls_export(
    file_id: Annotated[str, typer.Option("--file", help="The lead-list file's id.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write (default: stdout).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write a lead-list file's results: its original columns, then each call's status, outcome and results."""
    from opencaller.engine import exports, files

    settings = _settings(data_dir)

    async def run() -> int:
        db = await _migrated(settings)
        try:
            async with db.read() as session:
                team_id = await files.team_of_file(session, file_id)
            export = await exports.file_results(db, team_id, file_id)
            lines = 0
            with output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout) as out:
                async for text in export.lines:
                    out.write(text)
                    lines += text.count("\n")
            return lines - 1
        finally:
            await db.dispose()

    rows = _run_or_exit(run())
    if output is not None:
        console.print(f"wrote {output} (header and {rows} lines)")


def _run_or_exit(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
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
