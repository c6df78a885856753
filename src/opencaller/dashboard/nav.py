"""The dashboard's navigation: one entry per area, in the order the menu shows them."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "/dashboard"
"""Where the dashboard is served."""


@dataclass(frozen=True)
class NavItem:
    """A menu entry: ``area`` is what a page passes as ``area=`` to be shown as the current one."""

    area: str
    label: str
    path: str


NAV: tuple[NavItem, ...] = (
    NavItem("calls", "Calls", f"{PREFIX}/calls"),
    NavItem("templates", "Templates", f"{PREFIX}/templates"),
    NavItem("files", "Lead lists", f"{PREFIX}/files"),
    NavItem("phone-numbers", "Phone numbers", f"{PREFIX}/phone-numbers"),
    NavItem("do-not-call", "Do not call", f"{PREFIX}/do-not-call"),
    NavItem("api-keys", "API keys", f"{PREFIX}/api-keys"),
    NavItem("webhooks", "Webhooks", f"{PREFIX}/webhooks"),
)
