"""The ``/metrics`` page: vLLM's Prometheus names, in the emulator's own registry
(docs/vllm-behaviour.md §7).

Scraping only renders the registry: it never changes the engine's state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from engines.versions import VllmVersion, v

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# vllm 0.11.0 v1/metrics/loggers.py:376-383 and the e2e buckets next to them.
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
SLEEP_OP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
SLEEP_STATES = ("awake", "weights_offloaded", "discard_all")
# prometheus-fastapi-instrumentator's default exclusions in vLLM's setup.
UNINSTRUMENTED = frozenset({"/metrics", "/health", "/load", "/ping", "/version", "/server_info"})


class EngineMetrics:
    """Every series the emulator exposes, labelled ``model_name`` and ``engine="0"``."""

    def __init__(self, version: VllmVersion, model_name: str) -> None:
        self.registry = CollectorRegistry()
        self._version = version
        self._labels = {"model_name": model_name, "engine": "0"}
        names = ["model_name", "engine"]
        reg = self.registry
        kv_name = (
            "vllm:kv_cache_usage_perc" if version >= v("0.9.2") else "vllm:gpu_cache_usage_perc"
        )
        self.running = Gauge("vllm:num_requests_running", "Requests running", names, registry=reg)
        self.waiting = Gauge("vllm:num_requests_waiting", "Requests waiting", names, registry=reg)
        self.kv_usage = Gauge(kv_name, "KV-cache usage, 1 means 100 percent", names, registry=reg)
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Prefill tokens", names, registry=reg)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Generation tokens", names, registry=reg
        )
        self.success = Counter(
            "vllm:request_success", "Finished requests", [*names, "finished_reason"], registry=reg
        )
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds", "TTFT", names, buckets=TTFT_BUCKETS, registry=reg
        )
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds", "E2E", names, buckets=E2E_BUCKETS, registry=reg
        )
        self._sleep_state: Gauge | None = None
        if version >= v("0.11.1"):
            self._sleep_state = Gauge(
                "vllm:engine_sleep_state", "Sleep state", [*names, "sleep_state"], registry=reg
            )
        self._sleep_ops: Histogram | None = None
        self._sleep_ops_in_flight: Gauge | None = None
        if version >= v("0.32.0"):
            self._sleep_ops_in_flight = Gauge(
                "vllm:sleep_mode_operations_in_flight",
                "Sleep-mode operations in flight",
                ["operation"],
                registry=reg,
            )
            self._sleep_ops = Histogram(
                "vllm:sleep_mode_operation_duration_seconds",
                "Sleep-mode operation duration",
                ["operation"],
                buckets=SLEEP_OP_BUCKETS,
                registry=reg,
            )
        self._http_total = Counter(
            "http_requests", "HTTP requests", ["handler", "method", "status"], registry=reg
        )
        self._http_seconds = Histogram(
            "http_request_duration_seconds", "HTTP latency", ["handler", "method"], registry=reg
        )
        self.set_sleep_state(awake=True, level=None)

    def set_cache_config(self, num_gpu_blocks: int, block_size: int, utilization: float) -> None:
        info = Gauge(
            "vllm:cache_config_info",
            "Information of the LLMEngine CacheConfig",
            ["block_size", "num_gpu_blocks", "gpu_memory_utilization", "engine"],
            registry=self.registry,
        )
        info.labels(str(block_size), str(num_gpu_blocks), str(utilization), "0").set(1)

    def set_sleep_state(self, *, awake: bool, level: int | None) -> None:
        """awake=1 when awake; level 1 sets weights_offloaded, 2 discard_all; others only 0."""
        if self._sleep_state is None:
            return
        flags = {"awake": awake, "weights_offloaded": level == 1, "discard_all": level == 2}
        for state in SLEEP_STATES:
            self._sleep_state.labels(**self._labels, sleep_state=state).set(int(flags[state]))

    @contextlib.contextmanager
    def sleep_op_in_flight(self, operation: str) -> Iterator[None]:
        """Count ``operation`` (sleep, wake, release_kv_cache_memory) while it runs (0.32+)."""
        gauge = (
            None
            if self._sleep_ops_in_flight is None
            else self._sleep_ops_in_flight.labels(operation)
        )
        if gauge is not None:
            gauge.inc()
        try:
            yield
        finally:
            if gauge is not None:
                gauge.dec()

    def observe_sleep_op(self, operation: str, seconds: float) -> None:
        if self._sleep_ops is not None:
            self._sleep_ops.labels(operation).observe(seconds)

    def set_load(self, running: int, waiting: int, kv_usage: float) -> None:
        self.running.labels(**self._labels).set(running)
        self.waiting.labels(**self._labels).set(waiting)
        self.kv_usage.labels(**self._labels).set(kv_usage)

    def request_done(
        self, prompt: int, generated: int, reason: str, ttft: float | None, e2e: float
    ) -> None:
        self.prompt_tokens.labels(**self._labels).inc(prompt)
        self.generation_tokens.labels(**self._labels).inc(generated)
        self.success.labels(**self._labels, finished_reason=reason).inc()
        if ttft is not None:
            self.ttft.labels(**self._labels).observe(ttft)
        self.e2e.labels(**self._labels).observe(e2e)

    def http_request(self, path: str, method: str, status: int, seconds: float) -> None:
        if path in UNINSTRUMENTED:
            return
        self._http_total.labels(path, method, f"{status // 100}xx").inc()
        self._http_seconds.labels(path, method).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
