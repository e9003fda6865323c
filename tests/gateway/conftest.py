"""Fixtures for the gateway: the web process under uvicorn, inference keys, instance rows.

The gateway runs as a real ``uvicorn console.asgi:application`` subprocess against the
test database and the test Redis; one per distinct configuration for the session (a
server reloads its route table every second, so rows created by a test reach it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from pytest_django import DjangoDbBlocker
from redis import Redis

from console.gateway.figures import COUNTERS, gateway_figures
from console.models import Instance, InstanceState
from console.models.gateway import InferenceKey
from tests.jobs.conftest import console_host, make_instance  # noqa: F401  (fixtures)
from tests.support.console import console_process
from tests.support.emulator import EmulatorProcess, free_port, run_emulator

GatewayFactory = Callable[..., str]


@contextmanager
def run_gateway(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """The web process (``console.asgi``) under uvicorn; yields its base URL."""
    port = free_port()
    argv = ["-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--lifespan", "on"]  # fmt: skip
    ready = "Application startup complete"
    with console_process(argv, data_dir, f"gateway-{port}", ready, env=env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def gateway_factory(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayFactory]:
    """``gateway_factory(HOLD_SECONDS="2")``: the URL of a gateway with those settings."""
    running: dict[tuple[tuple[str, str], ...], str] = {}
    with ExitStack() as stack:

        def get(**overrides: str) -> str:
            env = {f"CONSOLE_GATEWAY_{k}": v for k, v in overrides.items()}
            key = tuple(sorted(env.items()))
            if key not in running:
                with django_db_blocker.unblock():
                    data_dir = tmp_path_factory.mktemp("gateway")
                    running[key] = stack.enter_context(run_gateway(data_dir, env))
            return running[key]

        yield get


@pytest.fixture
def gateway(gateway_factory: GatewayFactory) -> str:
    """A gateway with the default settings."""
    return gateway_factory()


@pytest.fixture(autouse=True)
def clean_gateway_keys() -> Iterator[Redis]:
    """Instance ids restart with each test's database: forget the gateway's Redis keys."""
    redis = Redis.from_url(settings.REDIS_URL)
    for key in redis.scan_iter(f"{settings.REDIS_PREFIX}gw:*"):
        redis.delete(key)
    yield redis
    redis.close()


@pytest.fixture
def inference_key(transactional_db: None) -> str:
    """A key that may use every model."""
    return InferenceKey.issue("tests", [])[1]


# Small, fast engines: every modelled wait a hundred times shorter.
FAST_ENGINE = ("--enable-sleep-mode", "--weights-gib", "1", "--kv-cache-gib", "1",
               "--startup-seconds", "0", "--time-scale", "0.01")  # fmt: skip
EngineFactory = Callable[..., AbstractContextManager[EmulatorProcess]]


@pytest.fixture
def engine_factory(tmp_path: Path) -> EngineFactory:
    """``with engine_factory("alpha") as emu``: a 0.11.0 emulator serving ``test/alpha``."""

    def start(name: str, *args: str) -> AbstractContextManager[EmulatorProcess]:
        return run_emulator(tmp_path, *FAST_ENGINE, "--served-model-name", f"test/{name}", *args)

    return start


@pytest.fixture
def alpha(engine_factory: EngineFactory) -> Iterator[EmulatorProcess]:
    """An emulator serving ``test/alpha`` (register it with ``register(alpha, "alpha")``)."""
    with engine_factory("alpha") as emu:
        yield emu


def settled_figures(
    model: str, counter: str, at_least: float, timeout: float = 5
) -> dict[str, float]:
    """The model's gateway figures once ``counter`` reached ``at_least`` (they are flushed to
    Redis about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        figures = gateway_figures().get(model, dict.fromkeys(COUNTERS, 0.0))
        if figures[counter] >= at_least or time.monotonic() > deadline:
            return figures
        time.sleep(0.1)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def register(emulator: EmulatorProcess, name: str, **fields: object) -> Instance:
    """An awake instance row for a running emulator (no host, no launch)."""
    fields.setdefault("state", InstanceState.AWAKE)
    fields.setdefault("served_model_name", f"test/{name}")
    return Instance.objects.create(name=name, base_url=emulator.url, **fields)


def completion_body(model: str, *, stream: bool = False, max_tokens: int = 4) -> dict[str, object]:
    return {"model": model, "prompt": "The capital of France is", "max_tokens": max_tokens,
            "temperature": 0, "stream": stream}  # fmt: skip


def post_completion(
    gateway: str, key: str, model: str, timeout: float = 30, **kwargs: object
) -> httpx.Response:
    return httpx.post(
        f"{gateway}/v1/completions",
        json=completion_body(model, **kwargs),  # type: ignore[arg-type]
        headers=bearer(key),
        timeout=timeout,
    )
