"""The console's door to an instance's engine: a client built from the instance row."""

from __future__ import annotations

from django.conf import settings

from console.models import Instance
from engines.client import EngineClient
from engines.versions import VllmVersion


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
    )
