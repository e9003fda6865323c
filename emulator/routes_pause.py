"""``/pause``, ``/resume``, ``/is_paused`` (0.12+; dev mode only from 0.16;
docs/vllm-behaviour.md §2.7)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator.engine import Engine
from emulator.scheduler import PauseState
from engines.versions import v

_MODES = ("abort", "wait", "keep")


def _mode(engine: Engine, raw: Request) -> str:
    """0.17+ ``mode``; before, ``wait_for_inflight_requests`` (default false = abort)."""
    if engine.features.has_sleep_level_zero:
        return raw.query_params.get("mode", "abort")
    wait = raw.query_params.get("wait_for_inflight_requests", "false").lower() == "true"
    return "wait" if wait else "abort"


async def _pause(engine: Engine, raw: Request) -> JSONResponse:
    mode = _mode(engine, raw)
    if mode not in _MODES:
        return JSONResponse({"error": f"Invalid pause mode: {mode}"}, status_code=400)
    scheduler = engine.scheduler
    if mode == "abort":
        await scheduler.abort_all()
    state = PauseState.PAUSED_ALL if mode == "keep" else PauseState.PAUSED_NEW
    await scheduler.set_api_pause(state)
    if mode == "wait":
        await scheduler.wait_idle()
    # 0.33 rejects new requests (503) in abort and wait modes; keep queues them.
    scheduler.reject_new = engine.config.version >= v("0.33.0") and mode != "keep"
    return JSONResponse({"status": "paused"})


def pause_router(engine: Engine) -> APIRouter:
    """The RL pause routes."""
    router = APIRouter()
    scheduler = engine.scheduler

    @router.post("/pause")
    async def pause(raw: Request) -> JSONResponse:
        return await _pause(engine, raw)

    @router.post("/resume")
    async def resume() -> JSONResponse:
        scheduler.reject_new = False
        await scheduler.set_api_pause(PauseState.UNPAUSED)
        return JSONResponse({"status": "resumed"})

    @router.get("/is_paused")
    async def is_paused() -> JSONResponse:
        return JSONResponse({"is_paused": scheduler.api_pause is not PauseState.UNPAUSED})

    return router
