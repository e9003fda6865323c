"""HTTP client for vLLM's sleep-mode, health and metrics endpoints, version by version.

``EngineClient`` builds requests and interprets answers with the plain functions of
``calls`` and ``answers``, sequenced by the generators of ``operations`` (the protocol
apart from the I/O). Its callers are the console's workers; the gateway proxies inference
requests with its own pooled asyncio client, as streams it never interprets. Failures are
the typed errors of :mod:`engines.errors`; no httpx exception escapes.
"""

from engines.client.calls import SleepMode, Timeouts
from engines.client.sync import EngineClient

__all__ = ["EngineClient", "SleepMode", "Timeouts"]
