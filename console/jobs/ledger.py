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
from dataclasses import dataclass, replace

from django.db import transaction

from console.jobs.capacity import need_per_gpu_bytes, newest_sample
from console.jobs.fit import GpuMemory, check_wake_fits
from console.jobs.moves import move
from console.jobs.refusals import refused
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


@dataclass
class Book:
    """An instance's GPUs as the ledger sees them, read once: their rows, each one's newest
    sample, and every instance using any of them (the instance's own row among them).

    A switch decides its evictions and the wake's fit from one read (four queries for a
    GPU) instead of reading each GPU's instances and sample again for every candidate.
    """

    target: Instance
    gpus: list[Gpu]
    samples: dict[int, MemorySample | None]
    rows: list[Instance]

    @classmethod
    def read(cls, instance: Instance, gpus: list[Gpu] | None = None) -> Book:
        gpus = list(instance.gpus.all()) if gpus is None else gpus
        samples = {gpu.pk: newest_sample(gpu=gpu) for gpu in gpus}
        rows = list(
            Instance.objects.filter(gpus__in=gpus)
            .distinct()
            .select_related("host")
            .prefetch_related("gpus")
            if gpus
            else []
        )
        target = next((row for row in rows if row.pk == instance.pk), instance)
        return cls(target, gpus, samples, rows)

    def using(self, gpu: Gpu, excluding: Instance) -> list[Instance]:
        return [r for r in self.rows if r.pk != excluding.pk and gpu in r.gpus.all()]

    def room(self, gpu: Gpu) -> GpuMemory:
        """The GPU without the target: ``used_bytes`` what is held, ``reserved_bytes`` what
        wakes and launches in flight were promised."""
        sample = self.samples[gpu.pk]
        others = self.using(gpu, excluding=self.target)
        outside = 0
        if sample is not None:
            names = {other.name for other in others} | {self.target.name}
            outside = max(0, sample.used_bytes - sum(attributed(sample, n) for n in names))
        held = promised = 0
        for other in others:
            if other.state in IN_FLIGHT:
                promised += held_bytes(other, sample)
            else:
                held += held_bytes(other, sample)
        return GpuMemory(gpu.index, gpu.total_bytes, outside + held, promised)

    def wake_room(self) -> tuple[int, list[GpuMemory]]:
        """What the target needs per GPU to be awake, and each of its GPUs' room."""
        need = max(
            (footprint(self.target, self.samples[gpu.pk]).awake for gpu in self.gpus), default=0
        )
        return need, [self.room(gpu) for gpu in self.gpus]

    def launch_room(self) -> tuple[int, list[GpuMemory]]:
        """What a launch will take per GPU (at least its share of ``gpu_memory_utilization``:
        vLLM takes that fraction of the whole device), and each GPU's room."""
        need = need_per_gpu_bytes(self.target)
        if self.target.gpu_memory_utilization and self.gpus:
            share = self.target.gpu_memory_utilization * min(g.total_bytes for g in self.gpus)
            need = max(need, int(share))
        return need, [self.room(gpu) for gpu in self.gpus]

    def neighbours(self) -> list[Instance]:
        """Awake instances sharing a GPU with the target, least recently changed first."""
        awake = {
            row.pk: row
            for gpu in self.gpus
            for row in self.using(gpu, excluding=self.target)
            if row.state == State.AWAKE
        }
        return sorted(awake.values(), key=lambda row: (row.state_changed_at, row.pk))

    def relieved(self, rooms: list[GpuMemory], sleepers: Iterable[Instance]) -> list[GpuMemory]:
        """``rooms`` once ``sleepers`` (awake) are asleep: each gives back its weights and KV
        cache share on the GPUs it uses."""
        by_index = {gpu.index: gpu for gpu in self.gpus}
        sleepers = list(sleepers)
        return [
            replace(
                room,
                used_bytes=room.used_bytes
                - sum(
                    footprint(s, self.samples[by_index[room.index].pk]).sleepable
                    for s in sleepers
                    if by_index[room.index] in s.gpus.all()
                ),
            )
            for room in rooms
        ]


def lock_gpus(instance: Instance) -> list[Gpu]:
    """The instance's GPU rows, locked: fit decisions on them are serialised (PostgreSQL row
    locks; SQLite's IMMEDIATE transactions already take the one write lock at BEGIN)."""
    return list(
        Gpu.objects.select_for_update(of=("self",)).filter(instances=instance).order_by("pk")
    )


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
        book = Book.read(instance, lock_gpus(instance))
        need, gpus = book.launch_room() if for_launch else book.wake_room()
        verdict = check_wake_fits(instance.name, need, gpus)
        if verdict.ok:
            move(instance, expected, to, **fields)
    if not verdict.ok:
        raise refused(verdict)
