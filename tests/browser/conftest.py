"""Browser tests: Debian's Chromium, driven headless by Playwright's Python API, against a live opencaller node.

The node dials the embedded phone-network simulator and answers with the real scripted voice agent (offline
Whisper and Piper), so a test call placed from the dashboard is a whole real call. Playwright's own browser
downloads are never used: the tests launch the system's ``chromium`` by path.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support import LiveServer, TeamClient, scripted_agent_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
"""Where the tests save pictures of the main pages (overwritten on every run; the README shows them)."""
CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str:
    """Debian's Chromium (``apt-get install chromium``; .ci/run and scripts/install-system-packages.sh do)."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        raise RuntimeError("the browser tests need Debian's chromium package: apt-get install chromium")
    return found


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, for one test module at a time: while it runs, its event loop runs in the main thread,
    where later tests' ``asyncio.run`` must find none."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium. Chromium refuses its sandbox to root, which is who CI runs as."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=args)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A calling node with the embedded simulator and the scripted conversational agent (models load once)."""
    with scripted_agent_server(tmp_path_factory.mktemp("dashboard")) as live:
        yield live


@pytest.fixture
def caller_team(dashboard_server: LiveServer) -> TeamClient:
    """A fresh team with a caller number (phone numbers are set up through the API here)."""
    return dashboard_server.new_caller_team("Sunny Solar")


@pytest.fixture
def page(browser: Browser, dashboard_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) with a desktop-size window."""
    context = browser.new_context(base_url=dashboard_server.base_url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Page, api_key: str) -> None:
    """Sign in through the form, as a person would, and land on the calls."""
    page.goto("/dashboard/sign-in")
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()


@contextmanager
def phone_without_javascript(browser: Browser, server: LiveServer, api_key: str) -> Iterator[Page]:
    """A phone-size touch screen with the page's scripts switched off, signed in with ``api_key`` for the block."""
    context = browser.new_context(
        base_url=server.base_url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,
    )
    try:
        phone = context.new_page()
        sign_in(phone, api_key)
        yield phone
    finally:
        context.close()


def screenshot(page: Page, name: str) -> None:
    """Save a full-page picture of what the browser shows as ``docs/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def text(pattern: str) -> re.Pattern[str]:
    """A case-insensitive pattern for ``expect(...).to_have_text``."""
    return re.compile(pattern, re.IGNORECASE)
