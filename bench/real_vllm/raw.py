"""The raw transcript: one engine driven directly over HTTP, every call and log line recorded.

The sequence (``SEQUENCE``) is what the conformance test replays against the emulator: each
step is one HTTP call (or a pair: a completion held while the engine sleeps, answered after
the wake), recorded with its method, path, query, body, status, the parts of the answer
that matter, its timing, the GPU memory after it and the log lines the engine wrote
during it. All calls of the main client share ONE pooled connection, as a console's client
does, so the connection closed after a 500 shows on the next call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from engines.probes import GpuProbe

from .probes import LogCursor, events, gpu_used

COMPLETION = {"prompt": "w5 w6 w7", "max_tokens": 4, "temperature": 0}


@dataclass(frozen=True)
class Call:
    """One HTTP call of the sequence."""

    step: str
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    fresh_connection: bool = False  # a new client, as a retry on a fresh connection would


# The sequence: names are stable keys the conformance test matches on.
SEQUENCE: tuple[Call | str, ...] = (
    Call("version", "GET", "/version"),
    Call("models", "GET", "/v1/models"),
    Call("health", "GET", "/health"),
    Call("is_sleeping_awake", "GET", "/is_sleeping"),
    Call("metrics_awake", "GET", "/metrics"),
    Call("completion_awake", "POST", "/v1/completions", body=COMPLETION),
    Call("sleep_l1_first", "POST", "/sleep", {"level": "1"}),
    Call("is_sleeping_l1", "GET", "/is_sleeping"),
    Call("metrics_l1", "GET", "/metrics"),
    Call("health_asleep", "GET", "/health"),
    "held_completions_then_wake",  # completions sent while asleep, then POST /wake_up
    Call("is_sleeping_woken", "GET", "/is_sleeping"),
    Call("metrics_woken", "GET", "/metrics"),
    Call("wake_when_awake", "POST", "/wake_up"),
    Call("sleep_l1_second", "POST", "/sleep", {"level": "1"}),
    Call("sleep_when_asleep", "POST", "/sleep", {"level": "1"}),
    Call("wake_weights_after_l1", "POST", "/wake_up", {"tags": "weights"}),
    Call("is_sleeping_weights_after_l1", "GET", "/is_sleeping"),
    Call("metrics_weights_after_l1", "GET", "/metrics"),
    Call("wake_kv_after_l1", "POST", "/wake_up", {"tags": "kv_cache"}),
    Call("is_sleeping_kv_after_l1", "GET", "/is_sleeping"),
    Call("sleep_l2", "POST", "/sleep", {"level": "2"}),
    Call("is_sleeping_l2", "GET", "/is_sleeping"),
    Call("metrics_l2", "GET", "/metrics"),
    Call("wake_weights_after_l2", "POST", "/wake_up", {"tags": "weights"}),
    Call("is_sleeping_weights_after_l2", "GET", "/is_sleeping"),
    Call("metrics_weights_after_l2", "GET", "/metrics"),
    Call("reload_weights", "POST", "/collective_rpc", body={"method": "reload_weights"}),
    Call("after_500_same_connection", "GET", "/is_sleeping"),
    Call("after_500_fresh_connection", "GET", "/is_sleeping", fresh_connection=True),
    Call("wake_kv_after_l2", "POST", "/wake_up", {"tags": "kv_cache"}),
    Call("reset_prefix_cache", "POST", "/reset_prefix_cache"),
    Call("is_sleeping_after_l2_wake", "GET", "/is_sleeping"),
    Call("sleep_l0", "POST", "/sleep", {"level": "0"}),
    Call("is_sleeping_l0", "GET", "/is_sleeping"),
    Call("metrics_l0", "GET", "/metrics"),
    Call("wake_after_l0", "POST", "/wake_up"),
    Call("sleep_l3", "POST", "/sleep", {"level": "3"}),
    Call("metrics_l3", "GET", "/metrics"),
    Call("wake_after_l3", "POST", "/wake_up"),
    Call("sleep_json_body_l2", "POST", "/sleep", body={"level": 2}),
    Call("metrics_json_body", "GET", "/metrics"),
    Call("wake_after_json_body", "POST", "/wake_up"),
    Call("completion_after", "POST", "/v1/completions", body=COMPLETION),
    Call("metrics_end", "GET", "/metrics"),
)


def sleep_state(text: str) -> dict[str, float]:
    """``vllm:engine_sleep_state`` by its ``sleep_state`` label."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vllm:engine_sleep_state":
                found[sample.labels.get("sleep_state", "")] = sample.value
    return found


def answer_parts(call: Call, response: httpx.Response) -> dict[str, Any]:
    """The parts of an answer the conformance test compares."""
    text = response.text
    parts: dict[str, Any] = {"body_length": len(text), "content_type": response.headers.get(
        "content-type")}  # fmt: skip
    parts["connection_header"] = response.headers.get("connection")
    if call.path == "/metrics":
        parts["sleep_state"] = sleep_state(text)
        return parts
    try:
        body = response.json() if text else None
    except json.JSONDecodeError:
        parts["text"] = text[:300]
        return parts
    if call.path == "/v1/completions" and isinstance(body, dict):
        choices = body.get("choices") or [{}]
        parts["json"] = {"object": body.get("object"), "finish_reason": choices[0].get(
            "finish_reason"), "usage": body.get("usage")}  # fmt: skip
    elif call.path == "/v1/models" and isinstance(body, dict):
        card = (body.get("data") or [{}])[0]
        parts["json"] = {k: card.get(k) for k in ("id", "object", "owned_by", "max_model_len")}
    else:
        parts["json"] = body
    return parts


class RawRecorder:
    """Runs the sequence against one engine and keeps the transcript."""

    def __init__(self, base_url: str, log: LogCursor, probe: GpuProbe, model: str) -> None:
        self.base_url = base_url
        self.log = log
        self.probe = probe
        self.model = model
        self.client = self._client()
        self.started = time.monotonic()
        self.steps: list[dict[str, Any]] = []

    def _client(self) -> httpx.Client:
        # One connection: every call reuses it while the server keeps it alive.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.Client(base_url=self.base_url, limits=limits, timeout=600)

    def _body(self, call: Call) -> Any:
        if call.path == "/v1/completions":
            return {"model": self.model, **call.body}
        return call.body

    def send(self, call: Call, client: httpx.Client | None = None) -> dict[str, Any]:
        client = client or (self._client() if call.fresh_connection else self.client)
        record: dict[str, Any] = {
            "step": call.step, "method": call.method, "path": call.path, "query": call.query,
            "body": self._body(call), "fresh_connection": call.fresh_connection,
            "at_s": round(time.monotonic() - self.started, 3),
        }  # fmt: skip
        started = time.perf_counter()
        try:
            response = client.request(
                call.method, call.path, params=call.query or None, json=self._body(call)
            )
            record["status"] = response.status_code
            record.update(answer_parts(call, response))
        except httpx.HTTPError as error:
            record["status"] = None
            record["error"] = f"{type(error).__name__}: {error}"
        record["seconds"] = round(time.perf_counter() - started, 6)
        if client is not self.client:
            client.close()
        return record

    def finish(self, record: dict[str, Any]) -> None:
        time.sleep(0.2)  # the engine core's lines are written by another process
        lines = self.log.read_new()
        record["log_lines"] = [line[:600] for line in lines if "Avg prompt throughput" not in line]
        record["events"] = events(lines)
        record["gpu_used_bytes"] = gpu_used(self.probe)
        self.steps.append(record)

    def held_then_wake(self) -> None:
        """Two completions (plain and streaming) sent while asleep, then the wake."""
        held: list[dict[str, Any]] = []
        threads = [
            threading.Thread(target=self._held_completion, args=(stream, held))
            for stream in (False, True)
        ]
        for thread in threads:
            thread.start()
        time.sleep(3.0)  # a real engine given 3 s: still pending means held
        pending = sum(thread.is_alive() for thread in threads)
        wake = self.send(Call("wake_with_held", "POST", "/wake_up"))
        woke_at = time.monotonic()
        for thread in threads:
            thread.join(timeout=120)
        wake["held"] = [
            {**h, "answered_after_wake_s": round(h.pop("done_at") - woke_at, 3)} for h in held
        ]
        wake["held_pending_after_3s"] = pending
        self.finish(wake)

    def _held_completion(self, stream: bool, out: list[dict[str, Any]]) -> None:
        body = {"model": self.model, **COMPLETION, "stream": stream}
        started = time.perf_counter()
        record: dict[str, Any] = {"stream": stream}
        try:
            with httpx.Client(base_url=self.base_url, timeout=300) as client:
                response = client.post("/v1/completions", json=body)
                record["status"] = response.status_code
                text = response.text
                record["sse_done"] = stream and "data: [DONE]" in text
                record["body_start"] = text[:200]
        except httpx.HTTPError as error:
            record["error"] = f"{type(error).__name__}: {error}"
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["done_at"] = time.monotonic()
        out.append(record)

    def run(self, between: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
        self.log.read_new()
        for item in SEQUENCE:
            if isinstance(item, str):
                self.held_then_wake()
            else:
                self.finish(self.send(item))
            if between is not None:
                between(self.steps[-1]["step"])
        self.client.close()
        return self.steps
