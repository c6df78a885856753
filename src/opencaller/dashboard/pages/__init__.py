"""The dashboard's areas: one module per area, each with a ``router``. Register a new area's router in ROUTERS."""

from __future__ import annotations

from fastapi import APIRouter

from opencaller.dashboard.pages import (
    api_keys,
    calls,
    do_not_call,
    files,
    phone_numbers,
    templates,
    test_calls,
    webhooks,
)

ROUTERS: list[APIRouter] = [
    calls.router,
    templates.router,
    test_calls.router,
    files.router,
    phone_numbers.router,
    do_not_call.router,
    api_keys.router,
    webhooks.router,
]
