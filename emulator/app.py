"""The FastAPI application: always-on routes, OpenAI routes, and the version's dev routes."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from emulator.engine import Engine
from emulator.metrics import CONTENT_TYPE
from emulator.middleware import AccessLog, ApiKeyAuth
from emulator.routes_dev import dev_router
from emulator.routes_extra import add_elastic_ep_status, extra_dev_router
from emulator.routes_openai import openai_router
from emulator.routes_pause import pause_router
from engines.versions import v


def _auth_prefixes(engine: Engine) -> tuple[str, ...]:
    # vllm 0.11.0 checks "/v1" only; 0.33.0 middleware/authenticate.py adds three more.
    if engine.config.version >= v("0.33.0"):
        return ("/v1", "/v2", "/inference", "/cohere")
    return ("/v1",)


def _add_core_routes(app: FastAPI, engine: Engine) -> None:
    def health() -> Response:
        # 200 (empty) while asleep in every version; 503 only once the engine is dead.
        return Response(status_code=503 if engine.dead else 200)

    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/ping", health, methods=["GET", "POST"])

    @app.get("/version")
    def version() -> JSONResponse:
        return JSONResponse({"version": str(engine.config.version)})

    @app.get("/load")
    def load() -> JSONResponse:
        return JSONResponse({"server_load": engine.scheduler.running_count()})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(engine.metrics.render(), media_type=CONTENT_TYPE)


def create_app(engine: Engine) -> FastAPI:
    """The server for ``engine``: dev routes exist only with ``VLLM_SERVER_DEV_MODE=1``."""
    config = engine.config
    features = engine.features
    app = FastAPI()
    _add_core_routes(app, engine)
    app.include_router(openai_router(engine))
    add_elastic_ep_status(app, engine)
    if config.dev_mode and features.has_sleep_endpoints:
        app.include_router(dev_router(engine))
        app.include_router(extra_dev_router(engine))
    if features.has_pause_endpoints and (config.dev_mode or not features.pause_needs_dev_mode):
        app.include_router(pause_router(engine))
    app.add_middleware(ApiKeyAuth, keys=config.api_keys, prefixes=_auth_prefixes(engine))
    app.add_middleware(AccessLog, log=engine.log, metrics=engine.metrics, enabled=config.access_log)
    return app
