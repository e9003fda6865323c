"""Engine ``/metrics`` scrapes for the instance samples: KV-cache use, queue, latency.

The agent scrapes each running engine every ``CONSOLE_ENGINE_SCRAPE_SECONDS``. Latency
percentiles are those of the interval between two scrapes (the difference of the
cumulative histograms), so a chart shows how fast requests were then, not since boot.
Scrapes go to the engine directly, never through the gateway, so they never count as
traffic for an idle timer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from console.models import Instance
from engines.client import EngineClient
from engines.errors import EngineError
from engines.metrics import EngineMetrics, Histogram

# Short: a hung engine must not hold up the agent's one-second tick for long.
SCRAPE_TIMEOUT = 2.0


def interval_figures(metrics: EngineMetrics, earlier: EngineMetrics | None) -> dict[str, float]:
    """What goes into the sample's ``extra`` (absent figures are left out)."""
    figures: dict[str, float] = {"running": metrics.running, "waiting": metrics.waiting}
    if metrics.kv_cache_usage is not None:
        figures["kv_cache_usage"] = metrics.kv_cache_usage
    if earlier is not None:
        figures |= _percentiles("ttft", metrics.ttft, earlier.ttft)
        figures |= _percentiles("e2e", metrics.e2e_latency, earlier.e2e_latency)
    return figures


def _percentiles(name: str, now: Histogram | None, then: Histogram | None) -> dict[str, float]:
    if now is None:
        return {}
    # A labelled histogram appears at its first observation (prometheus_client): absent
    # from the previous scrape means nothing had been observed then.
    window = now if then is None else now.minus(then)
    p50, p95 = window.p50, window.p95
    if window.count <= 0 or p50 is None or p95 is None:
        return {}
    return {f"{name}_p50": p50, f"{name}_p95": p95}


@dataclass
class EngineScraper:
    """One client per instance (kept, so the connection is reused) and its last scrape."""

    every: float
    clients: dict[int, EngineClient] = field(default_factory=dict)
    previous: dict[int, tuple[float, EngineMetrics]] = field(default_factory=dict)

    def figures(self, instance: Instance) -> dict[str, float]:
        """Figures when a scrape is due and the engine answers, else nothing."""
        now = time.monotonic()
        last = self.previous.get(instance.pk)
        if last is not None and now - last[0] < self.every:
            return {}
        try:
            metrics = self._client(instance).metrics()
        except EngineError:
            self.previous.pop(instance.pk, None)
            return {}
        self.previous[instance.pk] = (now, metrics)
        return interval_figures(metrics, last[1] if last else None)

    def _client(self, instance: Instance) -> EngineClient:
        client = self.clients.get(instance.pk)
        if client is None or client.base_url != instance.base_url.rstrip("/"):
            if client is not None:
                client.close()
            client = EngineClient(
                instance.base_url, api_key=instance.api_key or None, timeout=SCRAPE_TIMEOUT
            )
            self.clients[instance.pk] = client
        return client
