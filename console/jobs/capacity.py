"""The figures fit checks need, read from the rows and the newest samples."""

from __future__ import annotations

from django.conf import settings

from console.jobs.fit import GIB, HostRam, estimate_pinned_bytes
from console.models import Instance, InstanceState, Job, MemorySample, Resolution, Subject

State = InstanceState


def weights_bytes(instance: Instance) -> int:
    """Expected weight size, else what its last level-1 sleep backed up, else 0 (unknown)."""
    if instance.expected_weights_gib:
        return int(instance.expected_weights_gib * GIB)
    last = (
        Job.objects.filter(instance=instance, backed_up_gib__isnull=False)
        .order_by("-finished_at")
        .values_list("backed_up_gib", flat=True)
        .first()
    )
    return int((last or 0.0) * GIB)


def need_per_gpu_bytes(instance: Instance) -> int:
    """Weights + KV cache, split evenly over the instance's GPUs (tensor parallel)."""
    total = weights_bytes(instance)
    if instance.expected_kv_cache_gib:
        total += int(instance.expected_kv_cache_gib * GIB)
    else:
        last_freed = (
            Job.objects.filter(instance=instance, freed_gib__isnull=False)
            .order_by("-finished_at")
            .values_list("freed_gib", flat=True)
            .first()
        )
        total = max(total, int((last_freed or 0.0) * GIB))
    # len() of all(): served from a prefetch where the caller made one (the ledger does).
    return total // max(1, len(instance.gpus.all()))


def newest_sample(**subject: object) -> MemorySample | None:
    return MemorySample.objects.filter(resolution=Resolution.RAW, **subject).order_by("-at").first()


def pinned_need(instance: Instance) -> tuple[int, bool]:
    """Host RAM the instance's level-1 backup pins, and whether that was measured."""
    if instance.pinned_backup_bytes is not None:
        return instance.pinned_backup_bytes, True
    factor = settings.CONSOLE_PINNED_BACKUP_FACTOR
    return estimate_pinned_bytes(weights_bytes(instance), factor), False


def host_ram_figures(instance: Instance) -> HostRam:
    """The figures of ``check_host_ram_fits`` for a level-1 sleep of ``instance`` now."""
    headroom = int(settings.CONSOLE_HOST_RAM_HEADROOM_GIB * GIB)
    sample = newest_sample(host=instance.host, gpu=None, instance=None) if instance.host else None
    if sample is None:  # no agent has reported this host: nothing to check against
        return HostRam(weights=0, pinned=0, measured=False, available=0, reserved=0, headroom=0)
    others = Instance.objects.filter(host=instance.host, state=State.FALLING_ASLEEP)
    reserved = sum(
        max(0, pinned_need(other)[0] - held_pinned_bytes(other))
        for other in others.exclude(pk=instance.pk)
    )
    pinned, measured = pinned_need(instance)
    return HostRam(
        weights=weights_bytes(instance),
        pinned=pinned,
        measured=measured,
        available=(sample.total_bytes or 0) - sample.used_bytes,
        reserved=reserved,
        headroom=headroom,
        held=held_pinned_bytes(instance),
    )


def engine_rss_bytes(instance: Instance) -> int | None:
    """The engine's process-tree RSS in the newest sample of it (the agent's), if any."""
    sample = newest_sample(subject=Subject.INSTANCE, instance=instance)
    return sample.used_bytes if sample is not None else None


def held_pinned_bytes(instance: Instance) -> int:
    """Pinned host RAM the engine process holds from an earlier level-1 sleep: its RSS now
    above its RSS before that sleep (0 when unknown: no earlier sleep, or no samples)."""
    if instance.pinned_baseline_bytes is None:
        return 0
    rss = engine_rss_bytes(instance)
    return max(0, rss - instance.pinned_baseline_bytes) if rss is not None else 0
