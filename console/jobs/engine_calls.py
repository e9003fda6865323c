"""The console's door to an instance's engine: a client built from the instance row."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from console import critical
from console.models import Instance
from engines.client import EngineClient
from engines.errors import EngineError
from engines.versions import VllmVersion

log = logging.getLogger(__name__)
T = TypeVar("T")


def engine_client(instance: Instance) -> EngineClient:
    """A client that knows the engine's version already when the console has seen it."""
    version = None
    if instance.vllm_version:
        try:
            version = VllmVersion.parse(instance.vllm_version)
        except ValueError:
            version = None
    return EngineClient(
        instance.base_url,
        api_key=instance.api_key or None,
        timeout=settings.ENGINE_HTTP_TIMEOUT,
        version=version,
        awaiting=critical.awaiting_engine,  # the engine works: background work may run
    )


def remember_version(instance: Instance, client: EngineClient) -> None:
    """Keep the version the client learned when the row had none (once per engine), so the
    next job's calls do not ask ``/version`` first; the reconcile loop keeps it current."""
    known = client.known_version
    if known is not None and not instance.vllm_version:
        Instance.objects.filter(pk=instance.pk, vllm_version="").update(vllm_version=str(known))
        instance.vllm_version = str(known)


def with_retries(call: Callable[[], T], attempts: int = 3, pause: float = 1.0) -> T:
    """Run an engine call, again when its error says a retry can help (unreachable, busy).

    Safe for sleep and wake: vLLM treats a sleep of a sleeping engine and a wake of an
    awake one as logged no-ops, so a call that did land before its answer was lost is not
    harmful when repeated.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except EngineError as error:
            if not error.retryable or attempt == attempts:
                raise
            log.warning("engine call failed (%s); retry %d of %d", error, attempt, attempts - 1)
            with critical.waiting():
                time.sleep(pause * attempt)
    raise AssertionError("unreachable")
