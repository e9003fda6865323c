"""Memory bars: a GPU or a host's RAM, split into what each instance holds.

The dashboard renders them from the latest stored sample; the page's JS redraws them from
``gpu.sample`` / ``host.sample`` events with the same rules (``static/js/bars.js``):

- GPU: an awake instance shows its weights (``expected_weights_gib``) and its KV cache
  (the rest), a sleeping one what it still holds, one between states as busy; memory no
  instance accounts for is "other".
- Host: each instance's RSS; a level-1 sleeper's RSS is its pinned weight backup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from console.models import Gpu, Host, Instance, InstanceState, MemorySample, Resolution, Subject
from console.web.labels import state_label

GIB = 1 << 30


@dataclass(frozen=True)
class Segment:
    """A part of a bar: whose memory, of which kind, how much."""

    label: str
    kind: str
    bytes: int
    total_bytes: int

    @property
    def pct(self) -> str:
        share = 100 * self.bytes / self.total_bytes if self.total_bytes else 0.0
        return f"{min(share, 100.0):.2f}"

    @property
    def title(self) -> str:
        return f"{self.label}: {self.bytes / GIB:.1f} GiB"


# The segment inside the dashboard's <template>, cloned by static/js/bars.js.
BLANK_SEGMENT = Segment("", "other", 0, 0)


@dataclass(frozen=True)
class Bar:
    """Used of total bytes, and the segments that make the used part."""

    key: str
    used_bytes: int
    total_bytes: int
    segments: list[Segment]
    sampled: bool

    @property
    def summary(self) -> str:
        if not self.sampled:
            return "no sample yet"
        return f"{self.used_bytes / GIB:.1f} / {self.total_bytes / GIB:.1f} GiB"


def gpu_segments(
    by_instance: Mapping[str, int], used: int, total: int, instances: Mapping[str, Instance]
) -> list[Segment]:
    segments: list[Segment] = []
    for name in sorted(by_instance):
        instance = instances.get(name)
        if instance is not None:
            segments += _instance_gpu_segments(instance, by_instance[name], total)
    return with_other(segments, used, total)


def with_other(segments: list[Segment], used: int, total: int) -> list[Segment]:
    """The segments cut to add up to at most ``used``, and other processes for the rest, so
    that a bar fills exactly as far as its figure says: RSS counts pages shared between
    processes once for each, so a host's instances can add up to more than its used RAM."""
    shown: list[Segment] = []
    room = used
    for segment in segments:
        if room <= 0:
            break
        if segment.bytes > room:
            segment = replace(segment, label=f"{segment.label} (cut to the used total)", bytes=room)
        shown.append(segment)
        room -= segment.bytes
    if room > 0:
        shown.append(Segment("other processes", "other", room, total))
    return shown


def _instance_gpu_segments(instance: Instance, held: int, total: int) -> list[Segment]:
    name = instance.name
    if instance.state == InstanceState.SLEEPING:
        return [Segment(f"{name} (asleep)", "sleeping", held, total)]
    if instance.state != InstanceState.AWAKE:
        return [Segment(f"{name} ({state_label(instance.state)})", "busy", held, total)]
    weights = min(held, int((instance.expected_weights_gib or 0) * GIB))
    segments = [Segment(f"{name} weights", "weights", weights, total)] if weights else []
    if held > weights:
        segments.append(Segment(f"{name} KV cache", "kv", held - weights, total))
    return segments


def host_segments(
    instance_rss: Mapping[str, int], used: int, total: int, instances: Mapping[str, Instance]
) -> list[Segment]:
    segments: list[Segment] = []
    for name in sorted(instance_rss):
        instance = instances.get(name)
        if instance is None:
            continue
        if instance.state == InstanceState.SLEEPING and instance.sleep_level == 1:
            segments.append(Segment(f"{name} weight backup", "backup", instance_rss[name], total))
        else:
            segments.append(Segment(f"{name} RSS", "rss", instance_rss[name], total))
    return with_other(segments, used, total)


def _latest(**filters: object) -> MemorySample | None:
    samples = MemorySample.objects.filter(resolution=Resolution.RAW, **filters)
    return samples.order_by("-at").first()


def gpu_bar(gpu: Gpu, instances: Mapping[str, Instance]) -> Bar:
    sample = _latest(subject=Subject.GPU, gpu=gpu)
    if sample is None:
        return Bar(f"gpu-{gpu.pk}", 0, gpu.total_bytes, [], sampled=False)
    total = sample.total_bytes or gpu.total_bytes
    held = sample.extra.get("by_instance") or sample.extra.get("processes") or {}
    segments = gpu_segments(held, sample.used_bytes, total, instances)
    return Bar(f"gpu-{gpu.pk}", sample.used_bytes, total, segments, sampled=True)


def host_bar(host: Host, instances: Mapping[str, Instance]) -> Bar:
    sample = _latest(subject=Subject.HOST, host=host)
    if sample is None:
        return Bar(f"host-{host.pk}", 0, 0, [], sampled=False)
    # The agent writes a host's instance samples with its host sample's timestamp.
    rss = MemorySample.objects.filter(
        subject=Subject.INSTANCE, resolution=Resolution.RAW, host=host, at=sample.at
    ).select_related("instance")
    by_name = {row.instance.name: row.used_bytes for row in rss if row.instance is not None}
    total = sample.total_bytes or 0
    segments = host_segments(by_name, sample.used_bytes, total, instances)
    return Bar(f"host-{host.pk}", sample.used_bytes, total, segments, sampled=True)


@dataclass(frozen=True)
class HostCard:
    """A host on the dashboard: online or not, its RAM bar, its GPUs with their bars."""

    host: Host
    online: bool
    ram: Bar
    gpus: list[tuple[Gpu, Bar]]


def host_cards(
    hosts: Iterable[Host], instances: Iterable[Instance], now: datetime
) -> list[HostCard]:
    """Every host with its bars; ``instances`` say how to split them."""
    by_name = {instance.name: instance for instance in instances}
    return [
        HostCard(
            host,
            host.is_online(now),
            host_bar(host, by_name),
            [(gpu, gpu_bar(gpu, by_name)) for gpu in host.gpus.all()],
        )
        for host in hosts
    ]
