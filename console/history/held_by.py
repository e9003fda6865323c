"""Who held a GPU's memory over time: each instance's bytes, from the attribution every GPU
sample carries (``extra["processes"]``: bytes by instance name, ``other`` for the rest;
rollups keep it averaged). Read at the resolution the memory series uses, and averaged
into its buckets when it uses some, an instance absent from a sample counting 0."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.history.memory import samples
from console.history.resolution import choose
from console.history.rollup import mean_extra
from console.history.sql import EpochSeconds
from console.models import Instance, Subject

OTHER = "other"


@dataclass(frozen=True)
class HeldBy:
    """Series names (instances, then ``other``) and ``[epoch, bytes of each name]`` points."""

    names: list[str]
    points: list[list[float]]


def held_by(gpu_id: int, start: datetime, end: datetime, now: datetime) -> HeldBy:
    choice = choose(start, end, now)
    rows = (
        samples(Subject.GPU, gpu_id, choice.resolution)
        .filter(at__gte=start, at__lt=end)
        .order_by("at")
        .values_list(EpochSeconds("at"), "extra")
    )
    width = choice.bucket_seconds or 1
    buckets: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for at, extra in rows.iterator():
        buckets[at // width * width].append(extra or {})
    held = {at: _processes(extras) for at, extras in buckets.items()}
    names = _names(held.values())
    points = [[float(at), *(float(by.get(name, 0)) for name in names)] for at, by in held.items()]
    return HeldBy(names, points)


def _processes(extras: list[dict[str, Any]]) -> dict[str, float]:
    processes = mean_extra([{"processes": extra.get("processes") or {}} for extra in extras])
    by_name = processes.get("processes")
    return {str(k): float(v) for k, v in by_name.items()} if isinstance(by_name, dict) else {}


def _names(held: Iterable[dict[str, float]]) -> list[str]:
    seen = {name for by in held for name in by}
    return sorted(seen - {OTHER}) + ([OTHER] if OTHER in seen else [])


def instance_gpu_bytes(
    instance_id: int, start: datetime, end: datetime, now: datetime
) -> list[list[float]]:
    """``[epoch, bytes]``: what the instance held on its GPUs together, from their samples
    (points where only some of its GPUs were sampled count what was)."""
    instance = Instance.objects.prefetch_related("gpus").filter(pk=instance_id).first()
    if instance is None:
        return []
    total: dict[float, float] = defaultdict(float)
    for gpu in instance.gpus.all():
        series = held_by(gpu.pk, start, end, now)
        if instance.name in series.names:
            column = series.names.index(instance.name) + 1
            for point in series.points:
                total[point[0]] += point[column]
    return [[at, held] for at, held in sorted(total.items())]
