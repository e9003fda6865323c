"""HTTP client for vLLM's sleep-mode, health and metrics endpoints, version by version.

``EngineClient`` (blocking) and ``AsyncEngineClient`` (asyncio) share everything but the
I/O: requests are built and answers interpreted by the plain functions of ``calls`` and
``answers``, sequenced by the generators of ``operations``. Failures are the typed errors
of :mod:`engines.errors`; no httpx exception escapes.
"""

from engines.client.aio import AsyncEngineClient
from engines.client.calls import SleepMode, Timeouts
from engines.client.sync import EngineClient

__all__ = ["AsyncEngineClient", "EngineClient", "SleepMode", "Timeouts"]
