"""Build realtime events from rows: field by field, so a secret can never slip in."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from console.models import EngineEvent, Gpu, Host, Instance, Job, MemorySample
from console.realtime.messages import (
    EngineEventMessage,
    GpuPayload,
    GpuSample,
    HostPayload,
    HostSample,
    InstancePayload,
    InstanceStateEvent,
    JobUpdate,
    LogLine,
)


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def instance_state(instance: Instance) -> InstanceStateEvent:
    return {
        "type": "instance.state",
        "instance_id": instance.pk,
        "name": instance.name,
        "state": instance.state,
        "sleep_level": instance.sleep_level,
        "state_detail": instance.state_detail,
        "is_demo": instance.is_demo,
    }


def api_time(at: datetime) -> str:
    """``at`` as the REST API writes times (Django REST framework's ISO 8601, UTC as "Z")."""
    return at.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def job_update(job: Job) -> JobUpdate:
    return {
        "type": "job.update",
        "id": job.pk,
        "instance_id": job.instance_id,
        "instance": job.instance_id,
        "kind": job.kind,
        "state": job.state,
        "params": dict(job.params),
        "author": job.author,
        "created_at": api_time(job.created_at),
        "engine_seconds": job.engine_seconds,
        "wall_seconds": job.wall_seconds,
        "freed_gib": job.freed_gib,
        "backed_up_gib": job.backed_up_gib,
        "first_request_seconds": job.first_request_seconds,
        "error": job.error,
        "evidence": str((job.outcome_detail or {}).get("evidence") or ""),
    }


def engine_event(row: EngineEvent) -> EngineEventMessage:
    return {
        "type": "engine.event",
        "instance_id": row.instance_id,
        "kind": row.kind,
        "at": row.at.isoformat(),
        "message": row.message,
        "seconds": row.figure("seconds"),
        "freed_gib": row.figure("freed_gib"),
    }


def log_line(instance_id: int, line: str) -> LogLine:
    return {"type": "log.line", "instance_id": instance_id, "line": line}


def gpu_sample(host: Host, gpu: Gpu, row: MemorySample) -> GpuSample:
    extra = row.extra or {}
    utilization = extra.get("utilization_pct")
    return {
        "type": "gpu.sample",
        "host": host.name,
        "gpu_id": gpu.pk,
        "index": gpu.index,
        "at": row.at.isoformat(),
        "used_bytes": row.used_bytes,
        "total_bytes": row.total_bytes or gpu.total_bytes,
        "utilization_pct": int(utilization) if isinstance(utilization, int | float) else None,
        "by_instance": {str(k): int(v) for k, v in (extra.get("processes") or {}).items()},
    }


def host_sample(host: Host, row: MemorySample, instance_rss: dict[str, int]) -> HostSample:
    return {
        "type": "host.sample",
        "host": host.name,
        "host_id": host.pk,
        "at": row.at.isoformat(),
        "used_bytes": row.used_bytes,
        "total_bytes": row.total_bytes or 0,
        "swap_used_bytes": int((row.extra or {}).get("swap_used_bytes") or 0),
        "instance_rss": instance_rss,
    }


def host_payload(host: Host) -> HostPayload:
    return {
        "id": host.pk,
        "name": host.name,
        "online": host.is_online(timezone.now()),
        "last_heartbeat": iso(host.last_heartbeat),
    }


def gpu_payload(gpu: Gpu) -> GpuPayload:
    return {
        "id": gpu.pk,
        "host": gpu.host.name,
        "host_id": gpu.host_id,
        "index": gpu.index,
        "name": gpu.name,
        "total_bytes": gpu.total_bytes,
    }


def instance_payload(instance: Instance) -> InstancePayload:
    return {
        "id": instance.pk,
        "name": instance.name,
        "served_model_name": instance.served_model_name,
        "host": instance.host.name if instance.host else None,
        "gpu_ids": sorted(gpu.pk for gpu in instance.gpus.all()),
        "state": instance.state,
        "sleep_level": instance.sleep_level,
        "state_detail": instance.state_detail,
        "is_demo": instance.is_demo,
        "expected_weights_gib": instance.expected_weights_gib,
        "expected_kv_cache_gib": instance.expected_kv_cache_gib,
    }
