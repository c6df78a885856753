"""Provider-facing endpoints: status and answering-machine callbacks, the answer document, the media WebSocket.

They are not part of the public API (no key: the provider's signature or the one-time stream token is the
credential) and are left out of the OpenAPI document.
"""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect

from opencaller.api.deps import ServicesDep
from opencaller.engine.calls_runtime import CallRuntime
from opencaller.errors import NotFound
from opencaller.telephony import CallbackRequest, public_callback_url

router = APIRouter(prefix="/telephony/twilio", include_in_schema=False)


def _runtime(services: ServicesDep) -> CallRuntime:
    if services.calls is None:
        raise NotFound("telephony is not enabled on this node")
    return services.calls


async def _callback_request(services: ServicesDep, request: Request) -> CallbackRequest:
    body = await request.body()  # read first: the form is then parsed from the cached body
    form = await request.form()
    public_base = services.settings.public_url or str(request.base_url)
    url = public_callback_url(public_base, request.url.path, request.url.query)
    params = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    return CallbackRequest(url=url, params=params, headers=dict(request.headers), body=body)


@router.post("/status/{call_id}")
async def status_callback(services: ServicesDep, call_id: str, request: Request) -> Response:
    """A call status callback: verified, then applied forward-only."""
    await _runtime(services).status_callback(call_id, await _callback_request(services, request))
    return Response(status_code=204)


@router.post("/amd/{call_id}")
async def machine_detection_callback(services: ServicesDep, call_id: str, request: Request) -> Response:
    """Asynchronous answering-machine detection's verdict: verified, stored on the attempt, told to the agent."""
    await _runtime(services).machine_detection_callback(call_id, await _callback_request(services, request))
    return Response(status_code=204)


@router.post("/recording/{call_id}")
async def recording_callback(services: ServicesDep, call_id: str, request: Request) -> Response:
    """A recording callback: verified and acknowledged (recordings are stored by the agent's own recorder)."""
    runtime = _runtime(services)
    callback = await _callback_request(services, request)
    if not runtime.provider.verify_callback(callback):
        return PlainTextResponse("invalid signature", status_code=403)
    return Response(status_code=204)


@router.post("/answer/{call_id}")
async def answer(services: ServicesDep, call_id: str, request: Request) -> Response:
    """The answer document for an answered call (TwiML that connects the media stream)."""
    runtime = _runtime(services)
    document = await runtime.answer(call_id, await _callback_request(services, request))
    return Response(document, media_type=runtime.provider.answer_content_type)


@router.websocket("/media/{call_id}")
async def media(websocket: WebSocket, call_id: str) -> None:
    """The call's audio: accepted only when its ``start`` message carries the call's one-time token."""
    runtime: CallRuntime | None = websocket.app.state.services.calls
    await websocket.accept()
    if runtime is None:
        await websocket.close(code=1008)
        return
    try:
        accepted = await runtime.media_session(call_id, websocket.send_text, websocket.receive_text)
    except WebSocketDisconnect:
        return
    if not accepted:
        await websocket.close(code=1008)
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # already closed by the provider
        await websocket.close()
