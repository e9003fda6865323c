"""The engine events the agent writes from a real engine's log: figures in their columns,
and linked to the job whose evidence they are."""

from __future__ import annotations

import pytest

from console.models import EngineEvent, JobKind, JobState
from engines.logparser import EventKind
from tests.jobs.conftest import InstanceFactory, run_job, with_evidence

pytestmark = pytest.mark.slow


def test_a_sleeps_events_carry_their_figures_in_columns_and_name_the_job(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance("rho")
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    sleep = with_evidence(run_job(instance, JobKind.SLEEP, level=1))
    assert sleep.state == JobState.SUCCEEDED, sleep.error

    asleep = EngineEvent.objects.get(instance=instance, kind=EventKind.SLEEP)
    assert asleep.seconds == pytest.approx(sleep.engine_seconds, abs=0.001)
    assert asleep.seconds == asleep.data["seconds"]
    freed = EngineEvent.objects.get(instance=instance, kind=EventKind.CUMEM_FREED)
    assert freed.backed_up_gib == pytest.approx(2.0, abs=0.01)
    assert freed.freed_gib == sleep.freed_gib
    loaded = EngineEvent.objects.get(instance=instance, kind=EventKind.MODEL_LOADED)
    assert loaded.gib == pytest.approx(2.0, abs=0.01)
    linked = set(EngineEvent.objects.filter(job=sleep).values_list("kind", flat=True))
    assert linked == {EventKind.SLEEP, EventKind.CUMEM_FREED, EventKind.SLEEP_FREED}
    assert loaded.job is None, "the launch's lines are no sleep's evidence"


def test_a_switchs_victims_sleep_lines_are_the_switchs_evidence(
    make_instance: InstanceFactory,
) -> None:
    incoming = make_instance("sigma")
    outgoing = make_instance("tau")
    assert run_job(incoming, JobKind.LAUNCH).state == JobState.SUCCEEDED
    assert run_job(incoming, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    assert run_job(outgoing, JobKind.LAUNCH).state == JobState.SUCCEEDED
    switch = with_evidence(run_job(incoming, JobKind.SWITCH, sleep=[outgoing.pk], level=2))
    assert switch.state == JobState.SUCCEEDED, switch.error

    victims = EngineEvent.objects.filter(instance=outgoing, job=switch)
    assert EventKind.SLEEP in set(victims.values_list("kind", flat=True))
    woken = EngineEvent.objects.filter(instance=incoming, job=switch)
    assert EventKind.WAKE in set(woken.values_list("kind", flat=True))
