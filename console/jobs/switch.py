"""Switch an instance onto its GPUs: wake it, putting to sleep whoever stands in its way.

When it fits beside the instances already awake, it is woken first and the ones asked to
make room are put to sleep after, so the GPUs never serve nothing. When it does not fit,
the instances sharing its GPUs are put to sleep first (those asked for, then the least
recently active) until it fits, then it is woken. If even that is not enough, the job is
refused before anything moves, naming the numbers.

The whole plan is decided in one transaction, from one read of the ledger: who goes to
sleep, at which level, and the target's move to ``waking``, which promises it the room its
sleepers will give back. Between the sleep calls and the wake call nothing is decided
again: a switch's second engine call follows its first at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from console.jobs import capacity, fit, ledger, refusals
from console.jobs.moves import move
from console.jobs.outcome import JobOutcome
from console.jobs.sleepwake import sleep_instance, wake_reserved
from console.models import Instance, InstanceState, Job, transition

State = InstanceState


@dataclass
class Eviction:
    """A neighbour to put to sleep, at its level, with the host-RAM verdict that chose it."""

    instance: Instance
    level: int
    host_ram: fit.Fit | None


@dataclass
class Plan:
    """What the switch does: wake first (it fits beside them) or after the evictions."""

    wake_first: bool
    evictions: list[Eviction] = field(default_factory=list)
    # The level the target slept at, for its wake (the move to waking clears the row's).
    target_level: int | None = None


def eviction_level(instance: Instance, requested: int | None) -> tuple[int, fit.Fit | None]:
    """The operator's level, else 1 when host RAM can take the weights, else 2; and the
    host-RAM verdict, when judged (the sleep uses it rather than judging again)."""
    if requested == 2:
        return 2, None
    ram = fit.check_host_ram_fits(instance.name, capacity.host_ram_figures(instance))
    return (requested or (1 if ram.ok else 2)), ram


def choose_evictions(book: ledger.Book, required: list[Instance]) -> list[Instance] | None:
    """The fewest neighbours to put to sleep (those asked for first, then the least recently
    active) for the target to fit; ``[]`` when it fits as things are, None when nothing
    makes it fit."""
    need, rooms = book.wake_room()
    if fit.check_wake_fits(book.target.name, need, rooms).ok:
        return []
    candidates = required + [n for n in book.neighbours() if n not in required]
    for count in range(max(1, len(required)), len(candidates) + 1):
        chosen = candidates[:count]
        if fit.check_wake_fits(book.target.name, need, book.relieved(rooms, chosen)).ok:
            return chosen
    return None


def plan_and_reserve(
    target: Instance, required_ids: list[int], level: int | None
) -> tuple[Plan, fit.Fit | None]:
    """Decide the switch and move the target to ``waking`` in one transaction; or the
    verdict that refuses it (the target not moved)."""
    with transaction.atomic():
        book = ledger.Book.read(target, ledger.lock_gpus(target))
        on_gpus = {row.pk: row for row in book.rows}
        elsewhere = Instance.objects.filter(pk__in=set(required_ids) - set(on_gpus))
        rows = on_gpus | {row.pk: row for row in elsewhere}
        # Asked for by id; one gone or not awake any more has nothing to give back.
        required = [
            rows[pk] for pk in dict.fromkeys(required_ids)
            if pk in rows and pk != target.pk and rows[pk].state == State.AWAKE
        ]  # fmt: skip
        chosen = choose_evictions(book, required)
        if chosen is None:
            need, rooms = book.wake_room()
            return Plan(False), fit.check_wake_fits(target.name, need, rooms)
        wake_first = not chosen
        sleepers = required if wake_first else chosen
        evictions = [Eviction(s, *eviction_level(s, level)) for s in sleepers]
        plan = Plan(wake_first, evictions, book.target.sleep_level)
        names = ", ".join(s.name for s in chosen)
        detail = "" if wake_first else f"making room: putting {names} to sleep"
        move(target, {State.SLEEPING}, State.WAKING, state_detail=detail)
    return plan, None


def give_back(target: Instance, level: int | None) -> None:
    """The target's promised room, when the sleeps that were to make it failed."""
    if level in (1, 2):
        transition(target.pk, {State.WAKING}, State.SLEEPING, sleep_level=level, state_detail="")


def switch_to(job: Job, outcome: JobOutcome) -> None:
    target = job.instance
    level = job.params.get("level")
    required_ids = [int(pk) for pk in job.params.get("sleep") or []]
    if target.state == State.AWAKE:
        for row in Instance.objects.filter(pk__in=required_ids, state=State.AWAKE):
            victim_level, ram = eviction_level(row, level)
            sleep_instance(row, victim_level, outcome, host_ram=ram)
        return
    plan, verdict = plan_and_reserve(target, required_ids, level)
    if verdict is not None:
        raise refusals.refused(verdict, ", even after putting every neighbour to sleep")
    if plan.wake_first:
        wake_reserved(target, plan.target_level, None, outcome)
    try:
        for eviction in plan.evictions:
            sleep_instance(eviction.instance, eviction.level, outcome, host_ram=eviction.host_ram)
    except BaseException:
        if not plan.wake_first:
            give_back(target, plan.target_level)
        raise
    if not plan.wake_first:
        wake_reserved(target, plan.target_level, None, outcome)
