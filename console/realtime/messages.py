"""The realtime contract: every event sent over the channel layer, one TypedDict each.

Browsers and tests code against these shapes (the dashboard pages read ``type`` to pick a
handler). No event carries a secret: instance payloads are built field by field, never by
serialising a model, so ``api_key`` and ``launch_env`` cannot leak by accident.
"""

from __future__ import annotations

from typing import Literal, TypedDict


class GpuSample(TypedDict):
    """Used memory of one GPU, split by the instances whose processes hold it."""

    type: Literal["gpu.sample"]
    host: str
    gpu_id: int
    index: int
    at: str
    used_bytes: int
    total_bytes: int
    utilization_pct: int | None
    by_instance: dict[str, int]


class HostSample(TypedDict):
    """Host RAM: what level-1 sleepers' pinned weight backups show up in."""

    type: Literal["host.sample"]
    host: str
    host_id: int
    at: str
    used_bytes: int
    total_bytes: int
    swap_used_bytes: int
    instance_rss: dict[str, int]


class InstanceStateEvent(TypedDict):
    """An instance's row after a state transition."""

    type: Literal["instance.state"]
    instance_id: int
    name: str
    state: str
    sleep_level: int | None
    state_detail: str
    is_demo: bool


class JobFields(TypedDict):
    """A job as every client sees it: these keys mean the same, with the same values, in
    the REST API's answers (``JobSerializer``, which has more) and in ``job.update``."""

    id: int
    instance: int
    kind: str
    state: str
    params: dict[str, object]
    author: str  # who asked (``Job.author``): a user, an inference key, "schedule" or ""
    created_at: str  # ISO 8601 in UTC, "Z" as the REST API writes it
    engine_seconds: float | None
    wall_seconds: float | None
    freed_gib: float | None
    backed_up_gib: float | None
    first_request_seconds: float | None
    error: str


class JobUpdate(JobFields):
    """A job's row after it was queued, started or finished, with its figures."""

    type: Literal["job.update"]
    instance_id: int  # the key every event about an instance is routed by
    evidence: str  # "pending", "complete", or "" when the job has none to gather


class EngineEventMessage(TypedDict):
    """One parsed engine log event (sleep, wake, kv_cache...) or console observation."""

    type: Literal["engine.event"]
    instance_id: int
    kind: str
    at: str
    message: str
    seconds: float | None
    freed_gib: float | None


class LogLine(TypedDict):
    """One raw line of an engine's log, for the instance page's live tail."""

    type: Literal["log.line"]
    instance_id: int
    line: str


class HostPayload(TypedDict):
    """A host as the snapshot lists it."""

    id: int
    name: str
    online: bool
    last_heartbeat: str | None


class GpuPayload(TypedDict):
    """A GPU as the snapshot lists it."""

    id: int
    host: str
    host_id: int
    index: int
    name: str
    total_bytes: int


class InstancePayload(TypedDict):
    """An instance as the snapshot lists it (no secrets)."""

    id: int
    name: str
    served_model_name: str
    host: str | None
    gpu_ids: list[int]
    state: str
    sleep_level: int | None
    state_detail: str
    is_demo: bool
    expected_weights_gib: float | None
    expected_kv_cache_gib: float | None


class Snapshot(TypedDict):
    """Sent first on every connection, so a page never starts from stale partials."""

    type: Literal["snapshot"]
    hosts: list[HostPayload]
    gpus: list[GpuPayload]
    instances: list[InstancePayload]
    jobs: list[JobUpdate]


Event = GpuSample | HostSample | InstanceStateEvent | JobUpdate | EngineEventMessage | LogLine
