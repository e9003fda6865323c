"""The remaining always-there and dev routes of docs/vllm-behaviour.md §2.2 and §2.9 that the
emulator answers truthfully without modelling anything new: caches it does not have, world size,
configuration, elastic-EP status. The version each appeared in is not in ``versions.py`` (the
console never calls them), so it is written here.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from emulator.engine import Engine
from engines.versions import v

RESET_MM_CACHE_SINCE = v("0.14.0")
RESET_ENCODER_CACHE_SINCE = v("0.16.0")
SERVER_INFO_SINCE = v("0.8.0")
SERVER_INFO_FORMAT_SINCE = v("0.11.0")
WORLD_SIZE_SINCE = v("0.33.0")
ELASTIC_EP_SINCE = v("0.11.0")


def _config_dict(engine: Engine) -> dict[str, object]:
    config = engine.config
    return {
        "model": config.model,
        "served_model_name": list(config.model_names),
        "max_model_len": config.max_model_len,
        "tensor_parallel_size": config.tensor_parallel_size,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "enable_sleep_mode": config.enable_sleep_mode,
        "num_gpu_blocks": engine.backend.plan.num_blocks,
    }


def _server_info(engine: Engine, raw: Request) -> JSONResponse:
    described = _config_dict(engine)
    wants_json = raw.query_params.get("config_format", "text") == "json"
    if engine.config.version >= SERVER_INFO_FORMAT_SINCE and wants_json:
        return JSONResponse({"vllm_config": described})
    text = ", ".join(f"{key}={value!r}" for key, value in described.items())
    return JSONResponse({"vllm_config": text})


def extra_dev_router(engine: Engine) -> APIRouter:
    """Dev-only routes: cache resets (nothing to reset), world size, server info."""
    router = APIRouter()
    version = engine.config.version

    def empty() -> Response:
        return Response(status_code=200)

    if version >= RESET_MM_CACHE_SINCE:
        router.add_api_route("/reset_mm_cache", empty, methods=["POST"])
    if version >= RESET_ENCODER_CACHE_SINCE:
        router.add_api_route("/reset_encoder_cache", empty, methods=["POST"])
    if version >= SERVER_INFO_SINCE:

        @router.get("/server_info")
        def server_info(raw: Request) -> JSONResponse:
            return _server_info(engine, raw)

    if version >= WORLD_SIZE_SINCE:

        @router.get("/get_world_size")
        def get_world_size() -> JSONResponse:
            return JSONResponse({"world_size": engine.config.tensor_parallel_size})

    return router


def add_elastic_ep_status(app: FastAPI, engine: Engine) -> None:
    """``/is_scaling_elastic_ep`` has no dev-mode gate (docs/vllm-behaviour.md §2.9); the emulator
    never scales."""
    if engine.config.version < ELASTIC_EP_SINCE:
        return

    @app.post("/is_scaling_elastic_ep")
    def is_scaling_elastic_ep() -> JSONResponse:
        return JSONResponse({"is_scaling_elastic_ep": False})
