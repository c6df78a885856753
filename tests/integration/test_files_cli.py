"""``opencaller calls import`` and ``opencaller calls export`` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import temporary_database

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opencaller", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _seed(env: dict[str, str]) -> str:
    """A team with a number and a template (created through the engine, as an operator's script would); the
    template's id."""
    script = (
        "import asyncio, json\n"
        "from opencaller.settings import load_settings\n"
        "from opencaller.store.db import Database\n"
        "from opencaller.store.migrate import upgrade\n"
        "from opencaller.engine.teams import create_team\n"
        "from opencaller.engine.templates import create_template\n"
        "from opencaller.engine.phone_numbers import create_phone_number\n"
        "from opencaller.domain.templates import TemplateDefinition\n"
        "async def main():\n"
        "    db = Database(load_settings().resolved_database_url)\n"
        "    await upgrade(db)\n"
        "    async with db.transaction() as s:\n"
        "        team, _ = await create_team(s, 'Acme')\n"
        "        await create_phone_number(s, team.id, {'number': '+12025550199'})\n"
        "        definition = TemplateDefinition(name='t', promptVariables=[{'key': 'customer_name'}],\n"
        "                                        resultColumns=[{'columnName': 'interest'}])\n"
        "        view = await create_template(s, team.id, definition)\n"
        "    await db.dispose()\n"
        "    print(view.template.id)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_then_export(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        env = {**os.environ, "OPENCALLER_DATA_DIR": str(tmp_path), "OPENCALLER_DATABASE_URL": url}
        template_id = _seed(env)

        imported = _cli(
            "calls", "import", str(FIXTURES / "leads_bom_semicolon.csv"), "--template", template_id,
            "--map", "name=Nom", "--map", "city=Ville", env=env,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert "2 rows, 2 calls queued, 0 rejected" in imported.stdout

        messy = _cli("calls", "import", str(FIXTURES / "leads_messy.csv"), "--template", template_id, "--json", env=env)
        assert messy.returncode == 0, messy.stderr
        report = json.loads(messy.stdout)
        assert (report["rowCount"], report["acceptedCount"], report["rejectedCount"]) == (9, 3, 6)
        assert report["rejectedRows"][0] == {"row": 2, "reason": "variables: missing required variables: customer_name"}

        out = tmp_path / "results.csv"
        exported = _cli("calls", "export", "--file", report["_id"], "-o", str(out), env=env)
        assert exported.returncode == 0, exported.stderr
        table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
        assert table[0][:5] == ["name", "phone", "customer_name", "city", "status"]
        assert "interest" in table[0]
        assert [row[0] for row in table[1:]] == ["Good One", "Trailing Empty", "Short City"]
        assert {row[4] for row in table[1:]} == {"queued"}

        bad = _cli("calls", "import", str(FIXTURES / "leads_latin1.csv"), "--template", template_id, env=env)
        assert bad.returncode == 1 and "not UTF-8" in bad.stderr
        unknown = _cli("calls", "import", str(FIXTURES / "leads_tab.csv"), "--template", "0" * 24, env=env)
        assert unknown.returncode == 1 and "not found" in unknown.stderr
        tab = str(FIXTURES / "leads_tab.csv")
        bad_map = _cli("calls", "import", tab, "--template", template_id, "--map", "x", env=env)
        assert bad_map.returncode == 2 and "KEY=COLUMN" in bad_map.stderr
