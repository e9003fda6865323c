"""vLLM's JSON error shape and the small bodies shared by several routes."""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus

from fastapi.responses import JSONResponse

from emulator import lines
from engines.versions import VllmVersion, v


def error_response(
    message: str, code: int, *, type_: str | None = None, param: str | None = None
) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}`` (vLLM's ErrorResponse)."""
    body = {
        "error": {
            "message": message,
            "type": type_ or HTTPStatus(code).phrase,
            "param": param,
            "code": code,
        }
    }
    return JSONResponse(body, status_code=code)


def bad_request(message: str, param: str | None = None) -> JSONResponse:
    # Validation errors are 400 "Bad Request", not FastAPI's 422 (vllm 0.11.0 api_server).
    return error_response(message, 400, type_="Bad Request", param=param)


def engine_dead_response(version: VllmVersion) -> JSONResponse:
    """The 500 of a request that met (or killed) a dead engine (docs/vllm-behaviour.md §4)."""
    type_ = "InternalServerError" if version >= v("0.33.0") else None
    return error_response(lines.engine_dead(version), 500, type_=type_)


def paused_response() -> JSONResponse:
    """0.33's /pause (abort or wait) rejects generation with 503 ``engine_paused``."""
    return error_response(
        "Generation is paused. Please retry after it resumes.",
        503,
        type_="ServiceUnavailableError",
    )


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())
