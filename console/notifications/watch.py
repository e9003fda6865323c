"""Conditions no single place decides: a host gone quiet, memory nearly full.

Each is alerted once per occurrence (a Redis one-shot key), not on every check: the
reconcile round runs every few seconds and the agent samples every second.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings

from console.models import Host, Job, MemorySample, Subject
from console.models.notifications import AlertKind
from console.notifications import throttle
from console.notifications.alerts import alert

# A host's outage is keyed by its last heartbeat: it fires once, however long it lasts.
OUTAGE_KEY_SECONDS = 7 * 24 * 3600
GIB = 1 << 30


def offline_hosts(now: datetime) -> None:
    """``host_offline`` for each host whose agent's heartbeat went stale (once an outage)."""
    for host in Host.objects.exclude(last_heartbeat=None):
        beat = host.last_heartbeat
        if beat is None or host.is_online(now):
            continue
        if throttle.first_time(f"host_offline:{host.pk}:{beat.timestamp()}", OUTAGE_KEY_SECONDS):
            quiet = round((now - beat).total_seconds())
            alert(
                AlertKind.HOST_OFFLINE,
                f"host {host.name} is offline: its agent's last heartbeat was {quiet} s ago",
                host=host.name, last_heartbeat=beat.isoformat(), seconds_since=quiet,
            )  # fmt: skip


def full_memory(samples: Iterable[MemorySample]) -> None:
    """``memory_near_full`` for a GPU or host RAM sample at or over the threshold."""
    threshold = settings.CONSOLE_ALERT_MEMORY_PERCENT
    for sample in samples:
        if sample.subject not in (Subject.GPU, Subject.HOST) or not sample.total_bytes:
            continue
        percent = 100 * sample.used_bytes / sample.total_bytes
        if percent < threshold:
            continue
        what = f"GPU {sample.gpu.index}" if sample.gpu is not None else "host RAM"
        key = f"memory:{sample.host_id}:{sample.subject}:{sample.gpu_id or ''}"
        if throttle.first_time(key, settings.CONSOLE_ALERT_MEMORY_QUIET_SECONDS):
            host = sample.host.name if sample.host is not None else ""
            alert(
                AlertKind.MEMORY_NEAR_FULL,
                f"{host} {what}: {percent:.1f}% used (threshold {threshold:g}%)",
                host=host, memory=what, used_gib=round(sample.used_bytes / GIB, 2),
                total_gib=round(sample.total_bytes / GIB, 2), percent=round(percent, 1),
                threshold_percent=threshold,
            )  # fmt: skip


def slow_wakes(job_id: int) -> None:
    """``slow_wake`` for each wake step of the job whose engine seconds (its log lines,
    once ``evidence.attach`` has read them) or, lacking those, call seconds are over the
    threshold."""
    threshold = settings.CONSOLE_ALERT_SLOW_WAKE_SECONDS
    job = Job.objects.filter(pk=job_id).only("kind", "outcome_detail").first()
    steps = (job.outcome_detail or {}).get("steps") or [] if job is not None else []
    for step in steps:
        if step.get("step") != "wake":
            continue
        seconds = step.get("engine_seconds") or step.get("call_seconds")
        if seconds is not None and float(seconds) > threshold:
            alert(
                AlertKind.SLOW_WAKE,
                f"{step.get('instance')} took {float(seconds):.2f} s to wake "
                f"(threshold {threshold:g} s; job {job_id})",
                instance=step.get("instance"), job=job_id, seconds=round(float(seconds), 3),
                threshold_seconds=threshold,
            )  # fmt: skip
