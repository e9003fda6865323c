"""The dev endpoints: ``/sleep``, ``/wake_up``, ``/is_sleeping``, ``/reset_prefix_cache``,
``/collective_rpc`` (docs/vllm-behaviour.md §2.3-2.6). Only declared with
``VLLM_SERVER_DEV_MODE=1``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from emulator import lines
from emulator.backends import WakeOutOfMemoryError
from emulator.crash import wake_oom_error
from emulator.engine import DummyReloadError, Engine
from emulator.middleware import mark_uncaught
from emulator.responses import bad_request, error_response
from engines.versions import v

_MODES = ("abort", "wait", "keep")


def internal_error(raw: Request, exception: str) -> Response:
    """An exception vLLM does not handle: Starlette's bare text 500 and uvicorn's traceback,
    then the connection is closed (``middleware.mark_uncaught``)."""
    mark_uncaught(raw.scope, exception)
    return PlainTextResponse("Internal Server Error", status_code=500)


def _validation_error(param: str, kind: str, message: str, value: str) -> JSONResponse:
    # 0.32+: FastAPI's query validation, rewritten to 400 by vLLM's handler
    # (docs/vllm-behaviour.md §2.3).
    detail = {"type": kind, "loc": tuple(param.split(".")), "msg": message, "input": value}
    return bad_request(f"1 validation error:\n  {detail}", param=param)


def _typed_level(raw: Request) -> int | JSONResponse:
    text = raw.query_params.get("level", "1")
    try:
        level = int(text)
    except ValueError:
        return _validation_error(
            "query.level", "int_parsing", "Input should be a valid integer", text
        )
    if not 0 <= level <= 2:
        kind, bound = ("greater_than_equal", "greater than or equal to 0")
        if level > 2:
            kind, bound = ("less_than_equal", "less than or equal to 2")
        return _validation_error("query.level", kind, f"Input should be {bound}", text)
    return level


def _sleep_args(engine: Engine, raw: Request) -> tuple[int, str] | Response:
    """``(level, mode)`` from the query string only, or the error this version answers."""
    mode = raw.query_params.get("mode", "abort")
    if engine.features.json_bodies:
        level = _typed_level(raw)
        if isinstance(level, JSONResponse):
            return level
        if mode not in _MODES:
            message = "Input should be 'abort', 'wait' or 'keep'"
            return _validation_error("query.mode", "literal_error", message, mode)
        return level, mode
    # <=0.31: int() of the query string, nothing catches the ValueError; the body is never
    # read, so -d '{"level":2}' sleeps at level 1.
    text = raw.query_params.get("level", "1")
    try:
        level = int(text)
    except ValueError:
        error = f"ValueError: invalid literal for int() with base 10: {text!r}"
        return internal_error(raw, error)
    if engine.features.has_sleep_level_zero and mode not in _MODES:
        # 0.17-0.31 pass the text on to the engine, whose pause rejects it (inferred).
        return internal_error(raw, f"ValueError: Invalid pause mode: {mode}")
    return level, mode


async def _sleep(engine: Engine, raw: Request) -> Response:
    parsed = _sleep_args(engine, raw)
    if isinstance(parsed, Response):
        return parsed
    level, mode = parsed
    if engine.config.version < v("0.8.0"):
        engine.log.info(engine.log.layout.api, "api_sleep", f"sleep the engine with level {level}")
        if not engine.config.enable_sleep_mode:
            # The V0 engine asserts the flag (the console's client looks for this text).
            message = "Sleep mode is not enabled in the model config"
            mark_uncaught(raw.scope, f"AssertionError: {message}")
            return error_response(message, 500)
    await engine.sleep(level, mode)
    if engine.features.json_bodies:
        return JSONResponse({"status": "sleeping", "level": level})
    return Response(status_code=200)


async def _wake(engine: Engine, raw: Request) -> Response:
    tags: list[str] | None = None
    if engine.features.has_wake_tags:
        tags = raw.query_params.getlist("tags") or None
    engine.log.info(engine.log.layout.api, "api_wake", lines.api_wake(engine.config.version, tags))
    try:
        await engine.wake(tags)
    except WakeOutOfMemoryError:
        message = wake_oom_error(engine.config)
        mark_uncaught(raw.scope, message)
        return error_response(message.removeprefix("RuntimeError: "), 500)
    if engine.features.json_bodies:
        status = "sleeping" if engine.is_sleeping else "awake"
        return JSONResponse({"status": status, "tags": tags})
    return Response(status_code=200)


async def _reset_prefix_cache(engine: Engine, raw: Request) -> Response:
    api = engine.log.layout.api
    if engine.config.version < v("0.12.0"):
        device = raw.query_params.get("device")
        engine.log.info(
            api, "prefix_reset_api", f"Resetting prefix cache with specific {device}..."
        )
        if device == "CPU":
            return internal_error(raw, "ValueError: Not supported on CPU.")
    else:
        engine.log.info(api, "prefix_reset_api", "Resetting prefix cache...")
    # The engine core's block pool logs the outcome (a real 0.25.0, as before every sleep).
    engine.log_prefix_reset()
    success = engine.reset_prefix_cache()
    if engine.features.reset_prefix_cache_json:
        return JSONResponse({"success": success})
    return Response(status_code=200)


async def _collective_rpc(engine: Engine, raw: Request) -> Response:
    try:
        body: Any = json.loads(await raw.body())
    except ValueError as error:
        return bad_request(f"JSON decode error: {error}")
    method = body.get("method") if isinstance(body, dict) else None
    if not method:
        return bad_request("Missing 'method' in request body")
    if method != "reload_weights":
        return internal_error(raw, f"AttributeError: 'Worker' object has no attribute {method!r}")
    try:
        await engine.reload_weights()
    except DummyReloadError as error:
        return _rpc_failed(engine, raw, str(error))
    return JSONResponse({"results": [None] * engine.config.tensor_parallel_size})


def _rpc_failed(engine: Engine, raw: Request, error: str) -> Response:
    """A worker's exception in collective_rpc: 0.25 answers it as JSON, then re-raises."""
    if engine.config.version < v("0.25.0"):
        return internal_error(raw, f"NotImplementedError: {error}")
    engine.log.error(
        engine.log.layout.api, "exception_caught", "Exception caught. Request id: None"
    )
    mark_uncaught(raw.scope, f"vllm.v1.engine.exceptions.EngineGenerateError: {error}")
    message = f"Call to collective_rpc method failed: {error}"
    return error_response(message, 500, type_="InternalServerError")


async def _release_kv_cache(engine: Engine) -> Response:
    try:
        await engine.release_kv_cache()
    except RuntimeError as error:
        return error_response(str(error), 500)
    if engine.features.json_bodies:
        return JSONResponse({"status": "kv_cache_released"})
    return Response(status_code=200)


def dev_router(engine: Engine) -> APIRouter:
    """The sleep-mode dev routes this version declares."""
    router = APIRouter()
    features = engine.features

    @router.post("/sleep")
    async def sleep(raw: Request) -> Response:
        return await _sleep(engine, raw)

    @router.post("/wake_up")
    async def wake_up(raw: Request) -> Response:
        return await _wake(engine, raw)

    if features.has_is_sleeping:

        @router.get("/is_sleeping")
        async def is_sleeping() -> dict[str, bool]:
            if features.logs_is_sleeping_calls:
                message = "check whether the engine is sleeping"
                engine.log.info(engine.log.layout.api, "api_is_sleeping", message)
            return {"is_sleeping": engine.is_sleeping}

    if features.has_reset_prefix_cache:

        @router.post("/reset_prefix_cache")
        async def reset_prefix_cache(raw: Request) -> Response:
            return await _reset_prefix_cache(engine, raw)

    if features.has_collective_rpc:

        @router.post("/collective_rpc")
        async def collective_rpc(raw: Request) -> Response:
            return await _collective_rpc(engine, raw)

    if features.has_release_kv_cache:

        @router.post("/release_kv_cache_memory")
        async def release_kv_cache_memory() -> Response:
            return await _release_kv_cache(engine)

    return router
