"""Activate an instance on its GPUs: wake it, putting to sleep whoever stands in its way.

When it fits beside the instances already awake, it is woken first and the ones asked to
make room are put to sleep after, so the GPUs never serve nothing. When it does not fit,
the instances sharing its GPUs are put to sleep first (those asked for, then the least
recently active) until it fits, then it is woken. If even that is not enough, the job is
refused before anything moves, naming the numbers.
"""

from __future__ import annotations

from dataclasses import replace

from console.jobs import capacity, fit, ledger
from console.jobs.outcome import JobOutcome
from console.jobs.service import JobRefusedError
from console.jobs.sleepwake import sleep_instance, wake_instance
from console.models import Instance, InstanceState, Job

State = InstanceState


def neighbours(target: Instance) -> list[Instance]:
    """Awake instances sharing a GPU with the target, least recently changed first."""
    return list(
        Instance.objects.filter(gpus__in=target.gpus.all(), state=State.AWAKE)
        .exclude(pk=target.pk)
        .distinct()
        .order_by("state_changed_at", "pk")
    )


def eviction_level(instance: Instance, requested: int | None) -> tuple[int, fit.Fit | None]:
    """The operator's level, else 1 when host RAM can take the weights, else 2; and the
    host-RAM verdict, when judged (the sleep uses it rather than judging again)."""
    if requested == 2:
        return 2, None
    ram = fit.check_host_ram_fits(instance.name, capacity.host_ram_figures(instance))
    return (requested or (1 if ram.ok else 2)), ram


def plan_evictions(target: Instance, required: list[Instance]) -> tuple[bool, list[Instance]]:
    """(wake first?, instances to put to sleep), or refuse when nothing makes it fit.

    Reads the memory ledger (rows, not a sample that may be a second old): a neighbour put
    to sleep gives back its weights and KV cache on each GPU it shares with the target.
    """
    need, gpus = ledger.wake_room(target)
    if fit.check_wake_fits(target.name, need, gpus).ok:
        return True, required
    candidates = required + [n for n in neighbours(target) if n not in required]
    for count in range(1, len(candidates) + 1):
        chosen = candidates[:count]
        relieved = [
            replace(
                gpu, used_bytes=gpu.used_bytes - sum(ledger.sleep_relief(v, gpu) for v in chosen)
            )
            for gpu in gpus
        ]
        if count >= len(required) and fit.check_wake_fits(target.name, need, relieved).ok:
            return False, chosen
    verdict = fit.check_wake_fits(target.name, need, gpus)
    raise JobRefusedError(f"{verdict.reason}, even after putting every neighbour to sleep")


def activate(job: Job, outcome: JobOutcome) -> None:
    target = job.instance
    level = job.params.get("level")
    required_ids = [int(pk) for pk in job.params.get("sleep") or []]
    required = list(Instance.objects.filter(pk__in=required_ids, state=State.AWAKE))
    if target.state == State.AWAKE:
        wake_first, victims = True, required
    else:
        wake_first, victims = plan_evictions(target, required)
    if wake_first and target.state != State.AWAKE:
        wake_instance(target, None, outcome)
    for victim in victims:
        victim_level, ram = eviction_level(victim, level)
        sleep_instance(victim, victim_level, outcome, host_ram=ram)
    if not wake_first:
        target.refresh_from_db()
        wake_instance(target, None, outcome)
