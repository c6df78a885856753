"""The one mapping from exceptions to the error shape ``{"error": {"code", "message", "details"}}``.

Bad input always answers 4xx with details; anything unexpected answers a bare 500 with no stack trace (the trace
goes to the log, with the request id).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opencaller.engine.validation import field_path
from opencaller.errors import ErrorDetail, OpenCallerError

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "validation_error",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, details: list[ErrorDetail] | None = None) -> JSONResponse:
    """Build an error answer in the documented shape."""
    body: dict[str, Any] = {
        "error": {"code": code, "message": message, "details": [d.as_dict() for d in details or []]}
    }
    return JSONResponse(body, status_code=status)


async def _opencaller_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenCallerError)
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return error_response(400, "validation_error", "the request body is not valid JSON")
        message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        details.append(ErrorDetail(field_path(err.get("loc", ())), message))
    return error_response(400, "validation_error", "the request is invalid", details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such endpoint"
    return error_response(exc.status_code, code, message)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method, exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(OpenCallerError, _opencaller_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
