"""A tiny Twilio-shaped REST server for loopback tests.

The server speaks just enough of Twilio's Calls API (form bodies, Basic auth, JSON answers and Twilio's error
JSON) to check what the adapter really puts on the wire. It records every request it receives. Some destination
numbers trigger scripted failures, like Twilio's own magic test numbers.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from opencaller.telephony.twilio import TwilioProvider

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"

INVALID_NUMBER = "+15005550001"  # Twilio's magic "invalid To" number: answers 21211
RATE_LIMITED_NUMBER = "+15005550429"
SERVER_ERROR_NUMBER = "+15005550500"
NEVER_ANSWERS_NUMBER = "+15005550999"  # the server holds the request until the test ends

ProviderFactory = Callable[..., TwilioProvider]
"""Builds a TwilioProvider from TwilioConfig keyword arguments (the ``make_provider`` fixture)."""


@dataclass
class RecordedRequest:
    """One request as the fake server saw it."""

    method: str
    path: str
    authorization: str | None
    content_type: str | None
    form: list[tuple[str, str]]


@dataclass
class FakeTwilio:
    """The fake server's state: known calls and the log of requests."""

    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    calls: dict[str, dict[str, object]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's legacy error body."""
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )


def _call_json(sid: str, to: str, from_: str, status: str) -> dict[str, object]:
    """A Call resource the way Twilio renders it (snake_case, RFC 2822 dates)."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "to": to,
        "from": from_,
        "status": status,
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": "Tue, 05 May 2026 10:00:00 +0000",
        "date_updated": "Tue, 05 May 2026 10:00:00 +0000",
        "start_time": None,
        "end_time": None,
        "duration": None,
        "answered_by": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
    }


def build_app(state: FakeTwilio) -> FastAPI:
    """The fake Twilio REST app, served both at the root and under ``/prefix`` (to test base-URL prefixes)."""
    router = APIRouter()
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    async def record(request: Request) -> RecordedRequest:
        form = await request.form()
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            authorization=request.headers.get("authorization"),
            content_type=request.headers.get("content-type"),
            form=[(name, str(value)) for name, value in form.multi_items()],
        )
        state.requests.append(recorded)
        return recorded

    @router.post("/2010-04-01/Accounts/{account_sid}/Calls.json")
    async def create_call(account_sid: str, request: Request) -> JSONResponse:
        recorded = await record(request)
        if recorded.authorization != expected_auth or account_sid != ACCOUNT_SID:
            return _error(401, 20003, "Authenticate")
        form = dict(recorded.form)
        to = form.get("To", "")
        if to == INVALID_NUMBER:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to == RATE_LIMITED_NUMBER:
            return _error(429, 20429, "Too Many Requests")
        if to == SERVER_ERROR_NUMBER:
            return _error(500, 20500, "Internal Server Error")
        if to == NEVER_ANSWERS_NUMBER:
            await state.release.wait()
            return _error(503, 20503, "released at teardown")
        sid = "CA" + secrets.token_hex(16)
        state.calls[sid] = _call_json(sid, to, form.get("From", ""), "queued")
        return JSONResponse(state.calls[sid], status_code=201)

    @router.get("/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json")
    async def fetch_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
        recorded = await record(request)
        if recorded.authorization != expected_auth:
            return _error(401, 20003, "Authenticate")
        if call_sid not in state.calls:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(state.calls[call_sid])

    @router.post("/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json")
    async def update_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
        recorded = await record(request)
        if recorded.authorization != expected_auth:
            return _error(401, 20003, "Authenticate")
        call = state.calls.get(call_sid)
        if call is None or call["status"] in ("completed", "canceled", "busy", "failed", "no-answer"):
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        call["status"] = dict(recorded.form).get("Status", call["status"])
        return JSONResponse(call)

    app = FastAPI()
    app.include_router(router)
    app.include_router(router, prefix="/prefix")
    return app
