"""The simulator's HTTP face: Twilio's REST Calls API, recordings, and a small inspection API.

Twilio-compatible (Basic auth with the simulator's account SID and auth token):

* ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json``: create a call (201 + the Call resource JSON).
* ``GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json``: fetch a call.
* ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json``: ``Status=completed|canceled``.
* ``GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}[.wav]``: a finished call's recording.

Inspection (no auth; the simulator is a loopback test tool):

* ``GET /_simulator/calls``: every call's summary, with dial counters.
* ``GET /_simulator/calls/{sid}``: one call's full record: log, transcript, callbacks sent, stream counts.
* ``GET /_simulator/calls/{sid}/audio/{sent|received|mixed}.wav``: what the callee said, heard, or both.
* ``GET /_simulator/calls/{sid}/timing``: when each platform ``media`` message arrived and how late each 20 ms
  tick ran (seconds since the answer; for latency and jitter benchmarks).
* ``POST /_simulator/calls/{sid}/hangup``: make the callee hang up now.
* ``GET /_simulator/stats``: dial counters per number and in total, calls per status.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from opencaller.audio import TELEPHONE_RATE, wav_bytes

from .config import SimulatorConfig
from .errors import TwilioApiError, not_found, unauthorized
from .network import FormData, PhoneNetwork
from .scenarios import load_scenarios
from .speech import OfflineVoice, build_voice
from .voice import CalleeVoice

API = "/2010-04-01/Accounts/{account_sid}"


def _check_auth(request: Request, config: SimulatorConfig, account_sid: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized()
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise unauthorized() from exc
    good_user = hmac.compare_digest(user.encode(), config.account_sid.encode())
    good_password = hmac.compare_digest(password.encode(), config.auth_token.encode())
    if not (good_user and good_password) or account_sid != config.account_sid:
        raise unauthorized()


async def _form(request: Request) -> FormData:
    form = await request.form()
    return {key: [str(value) for value in form.getlist(key)] for key in form}


def create_simulator_app(config: SimulatorConfig, voice: CalleeVoice | None = None) -> FastAPI:
    """Build the simulator's ASGI app; its lifespan starts and stops the phone network.

    ``voice`` is how callees speak and listen. When it is None the app builds the voice ``config.voice`` names
    and owns it (an offline voice's Piper process is stopped at shutdown); a voice passed in stays the caller's.
    """
    owned = build_voice(config.voice) if voice is None else None
    network = PhoneNetwork(config, load_scenarios(config.scenario_file), voice if voice is not None else owned)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await network.start()
        try:
            yield
        finally:
            await network.close()
            if isinstance(owned, OfflineVoice):
                await owned.aclose()

    app = FastAPI(title="opencaller phone-network simulator", lifespan=lifespan)
    app.state.network = network

    @app.exception_handler(TwilioApiError)
    async def twilio_error(_: Request, exc: TwilioApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.post(API + "/Calls.json", status_code=201)
    async def create_call(account_sid: str, request: Request) -> dict[str, Any]:
        """Create (dial) a call."""
        _check_auth(request, config, account_sid)
        return network.create_call(await _form(request)).to_twilio()

    @app.get(API + "/Calls/{call_sid}.json")
    async def fetch_call(account_sid: str, call_sid: str, request: Request) -> dict[str, Any]:
        """Fetch a call."""
        _check_auth(request, config, account_sid)
        return network.get_call(call_sid).to_twilio()

    @app.post(API + "/Calls/{call_sid}.json")
    async def update_call(account_sid: str, call_sid: str, request: Request) -> dict[str, Any]:
        """End or cancel a call."""
        _check_auth(request, config, account_sid)
        return network.update_call(call_sid, await _form(request)).to_twilio()

    @app.get(API + "/Recordings/{recording}")
    async def fetch_recording(account_sid: str, recording: str, request: Request) -> Response:
        """Download a recording as WAV (with or without the ``.wav`` extension)."""
        _check_auth(request, config, account_sid)
        sid = recording.removesuffix(".wav")
        return Response(network.recording_wav(sid), media_type="audio/x-wav")

    @app.get("/_simulator/calls")
    async def list_calls() -> dict[str, Any]:
        """Every call's summary, newest last, with the dial counters."""
        return {"calls": [call.summary() for call in network.calls.values()], **network.stats()}

    @app.get("/_simulator/stats")
    async def stats() -> dict[str, object]:
        """Dial counters per number and in total, and calls per status."""
        return network.stats()

    @app.get("/_simulator/calls/{call_sid}")
    async def call_detail(call_sid: str) -> dict[str, Any]:
        """One call's full record."""
        return network.get_call(call_sid).detail()

    @app.get("/_simulator/calls/{call_sid}/timing")
    async def call_timing(call_sid: str) -> dict[str, Any]:
        """Timing records: when each platform ``media`` message arrived, and how late each 20 ms tick ran."""
        return network.get_call(call_sid).timing()

    @app.get("/_simulator/calls/{call_sid}/audio/{track}.wav")
    async def call_audio(call_sid: str, track: str) -> Response:
        """The callee's side (``sent``), what it heard (``received``), or both mixed (``mixed``)."""
        call = network.get_call(call_sid)
        if track == "mixed":
            pcm = call.mixed_audio()
        elif track in ("sent", "received"):
            pcm = call.audio(track)
        else:
            raise not_found(f"/_simulator/calls/{call_sid}/audio/{track}.wav")
        return Response(wav_bytes(pcm, TELEPHONE_RATE), media_type="audio/x-wav")

    @app.post("/_simulator/calls/{call_sid}/hangup")
    async def callee_hangup(call_sid: str) -> dict[str, Any]:
        """Make the callee hang up now."""
        return network.hang_up_callee(call_sid).summary()

    return app
