"""The GPU memory ledger: what each instance holds or is promised, decided atomically.

A fit decision must not trust a sample alone: the agent samples once a second, so right
after a sleep the newest sample still shows the sleeper's memory (a switch would refuse
the wake it made room for), and right after a wake it does not show the woken engine yet
(a second wake would pass and the engine would die of a CUDA OOM). So the ledger counts
instances by their rows, and takes from the sample only what rows cannot say:

- what is not the console's (other processes, the driver): the sample's used memory
  minus what it attributes to instances;
- what each instance holds beyond its weights and KV cache (CUDA context, CUDA graphs,
  activations: vLLM's sleep does not free those), which it keeps while asleep.

An instance awake, waking, starting or falling asleep holds its weights and KV cache plus
that residue; asleep it holds the residue; stopped nothing. The decision and the move that
makes the promise (sleeping -> waking, stopped -> starting) happen in one transaction with
the instance's GPU rows locked, so two wakes can never both take the same room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from console.jobs.capacity import need_per_gpu_bytes, newest_sample
from console.jobs.fit import GpuMemory, check_wake_fits
from console.jobs.moves import move
from console.jobs.service import JobRefusedError
from console.models import Gpu, Instance, InstanceState, MemorySample

State = InstanceState
# States in which an engine holds (or is about to hold) its weights and KV cache.
HOLDING = frozenset(
    {State.AWAKE, State.WAKING, State.STARTING, State.FALLING_ASLEEP, State.UNKNOWN, State.STOPPING}
)

# States whose memory is promised rather than seen yet.
IN_FLIGHT = frozenset({State.WAKING, State.STARTING})


@dataclass(frozen=True)
class Footprint:
    """One instance on one GPU: its weights and KV cache share, and what it holds beyond."""

    sleepable: int
    residue: int

    @property
    def awake(self) -> int:
        return self.sleepable + self.residue


def attributed(sample: MemorySample | None, name: str) -> int:
    """Bytes the sample's per-process list attributes to the instance named ``name``."""
    if sample is None:
        return 0
    processes = (sample.extra or {}).get("processes") or {}
    return int(processes.get(name) or 0)


def footprint(instance: Instance, sample: MemorySample | None) -> Footprint:
    """The instance's share of one GPU, from its row and the newest sample of that GPU.

    The residue is what the sample shows beyond the weights and KV cache; when the sample
    was taken while the instance was asleep already, all it shows is residue.
    """
    sleepable = need_per_gpu_bytes(instance)
    seen = attributed(sample, instance.name)
    asleep_when_sampled = (
        instance.state == State.SLEEPING
        and sample is not None
        and sample.at > instance.state_changed_at
    )
    # A sample showing a sleeper holding its weights was taken while someone woke it behind
    # the console's back (reconcile corrects the row): only what is beyond them is residue.
    residue = seen if asleep_when_sampled and seen < sleepable else max(0, seen - sleepable)
    return Footprint(sleepable, residue)


def held_bytes(instance: Instance, sample: MemorySample | None) -> int:
    """What the instance holds on the GPU now, or has been promised."""
    if instance.state == State.STOPPED:
        return 0
    if instance.state == State.ERROR:
        return attributed(sample, instance.name)
    share = footprint(instance, sample)
    if instance.state in HOLDING:
        return max(share.awake, attributed(sample, instance.name))
    return share.residue


def gpu_room(gpu: Gpu, excluding: Instance, sample: MemorySample | None) -> GpuMemory:
    """The GPU as the ledger sees it without ``excluding``, from its newest ``sample``:
    ``used_bytes`` what is held, ``reserved_bytes`` what wakes and launches in flight were
    promised."""
    others = Instance.objects.filter(gpus=gpu).exclude(pk=excluding.pk).prefetch_related("gpus")
    outside = 0
    if sample is not None:
        names = {i.name for i in others} | {excluding.name}
        outside = max(0, sample.used_bytes - sum(attributed(sample, n) for n in names))
    held = promised = 0
    for other in others:
        if other.state in IN_FLIGHT:
            promised += held_bytes(other, sample)
        else:
            held += held_bytes(other, sample)
    return GpuMemory(gpu.index, gpu.total_bytes, outside + held, promised)


def sleep_relief(instance: Instance, gpu: GpuMemory) -> int:
    """What putting the (awake) instance to sleep gives back on ``gpu``: its weights and
    KV cache share there, nothing on a GPU it does not use."""
    row = instance.gpus.filter(index=gpu.index).first()
    if row is None:
        return 0
    return footprint(instance, newest_sample(gpu=row)).sleepable


def wake_room(instance: Instance) -> tuple[int, list[GpuMemory]]:
    """What the instance needs per GPU to be awake, and each of its GPUs' room without it."""
    gpus = list(instance.gpus.all())
    samples = [newest_sample(gpu=gpu) for gpu in gpus]
    need = max((footprint(instance, sample).awake for sample in samples), default=0)
    return need, [
        gpu_room(gpu, instance, sample) for gpu, sample in zip(gpus, samples, strict=True)
    ]


def launch_room(instance: Instance) -> tuple[int, list[GpuMemory]]:
    """What a launch will take per GPU (at least its share of ``gpu_memory_utilization``:
    vLLM takes that fraction of the whole device), and each GPU's room without it."""
    gpus = list(instance.gpus.all())
    need = need_per_gpu_bytes(instance)
    if instance.gpu_memory_utilization and gpus:
        need = max(need, int(instance.gpu_memory_utilization * min(g.total_bytes for g in gpus)))
    return need, [gpu_room(gpu, instance, newest_sample(gpu=gpu)) for gpu in gpus]


def _lock(gpu_ids: Iterable[int]) -> None:
    """Serialise fit decisions on these GPUs (PostgreSQL row locks; SQLite's IMMEDIATE
    transactions already take the one write lock at BEGIN)."""
    list(Gpu.objects.select_for_update().filter(pk__in=list(gpu_ids)).order_by("pk"))


def reserve(
    instance: Instance,
    expected: set[InstanceState],
    to: InstanceState,
    *,
    for_launch: bool = False,
    **fields: object,
) -> None:
    """Check that the instance fits and move it to ``to`` (``waking`` or ``starting``) in the
    same transaction: from then on the ledger counts it as held. Refuses with the numbers
    when it does not fit, with the state it is in when it is not in ``expected``."""
    with transaction.atomic():
        _lock(instance.gpus.values_list("pk", flat=True))
        need, gpus = launch_room(instance) if for_launch else wake_room(instance)
        verdict = check_wake_fits(instance.name, need, gpus)
        if not verdict.ok:
            raise JobRefusedError(verdict.reason)
        move(instance, expected, to, **fields)
