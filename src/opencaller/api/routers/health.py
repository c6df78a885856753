"""``/healthz``: whether this node can serve (its database answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from opencaller.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health check")
async def healthz(services: ServicesDep) -> JSONResponse:
    """200 when the database answers, 503 when it does not (so a load balancer takes the node out)."""
    if await services.db.ping():
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
