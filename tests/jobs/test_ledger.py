"""The GPU memory ledger: fit decisions from rows and a sample, taken atomically."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.jobs import ledger, switch
from console.jobs.evidence import gpu_used_bytes
from console.jobs.outcome import JobOutcome
from console.jobs.service import JobRefusedError, JobRequest, request_job
from console.models import (
    EngineEvent,
    Gpu,
    Host,
    Instance,
    InstanceState,
    Job,
    JobKind,
    JobState,
    MemorySample,
    Subject,
)
from tests.jobs.conftest import InstanceFactory, run_job, wait_finished, with_evidence

GIB = 1 << 30
S = InstanceState


@pytest.fixture
def gpu(db: None) -> Gpu:
    host = Host.objects.create(name="ledger-host")
    return Gpu.objects.create(host=host, index=0, total_bytes=24 * GIB)


def row(gpu: Gpu, name: str, state: S, **fields: object) -> Instance:
    fields.setdefault("sleep_level", 1 if state == S.SLEEPING else None)
    instance = Instance.objects.create(
        name=name, served_model_name=f"m/{name}", base_url="http://127.0.0.1:9",
        state=state, expected_weights_gib=8, expected_kv_cache_gib=6, **fields,
    )  # fmt: skip
    instance.gpus.set([gpu])
    return instance


def sample(gpu: Gpu, processes: dict[str, int], ago: float = 0.5, other: int = 0) -> None:
    MemorySample.objects.create(
        at=timezone.now() - timedelta(seconds=ago), subject=Subject.GPU, host=gpu.host, gpu=gpu,
        used_bytes=sum(processes.values()) + other, total_bytes=gpu.total_bytes,
        extra={"processes": processes | ({"other": other} if other else {})},
    )  # fmt: skip


def test_an_awake_instance_holds_its_memory_before_any_sample_shows_it(gpu: Gpu) -> None:
    row(gpu, "woken", S.AWAKE)
    target = row(gpu, "target", S.SLEEPING)
    need, (room,) = ledger.Book.read(target).wake_room()
    assert need == 14 * GIB
    assert room.used_bytes == 14 * GIB, "counted by its row: no sample shows it yet"


def test_a_wake_in_flight_is_promised_its_memory(gpu: Gpu) -> None:
    row(gpu, "waking", S.WAKING)
    target = row(gpu, "target", S.SLEEPING)
    _, (room,) = ledger.Book.read(target).wake_room()
    assert (room.used_bytes, room.reserved_bytes) == (0, 14 * GIB)


def test_an_instance_put_to_sleep_after_the_sample_keeps_only_its_residue(gpu: Gpu) -> None:
    target = row(gpu, "target", S.SLEEPING, state_changed_at=timezone.now() - timedelta(minutes=1))
    # The sample (half a second old) still shows the evicted one awake: 14 GiB + 0.5 GiB.
    sample(gpu, {"evicted": 14 * GIB + GIB // 2, "target": GIB // 4}, ago=0.5)
    row(gpu, "evicted", S.SLEEPING)
    need, (room,) = ledger.Book.read(target).wake_room()
    assert room.used_bytes == GIB // 2, "what it holds beyond weights and KV cache"
    assert need == 14 * GIB + GIB // 4, "the target's residue stays with it"


def test_memory_outside_the_console_counts_from_the_sample(gpu: Gpu) -> None:
    target = row(gpu, "target", S.SLEEPING)
    sample(gpu, {"target": 0}, other=3 * GIB)
    _, (room,) = ledger.Book.read(target).wake_room()
    assert room.used_bytes == 3 * GIB


def test_a_launch_takes_its_share_of_gpu_memory_utilization(gpu: Gpu) -> None:
    target = row(gpu, "target", S.STOPPED, gpu_memory_utilization=0.9)
    need, _ = ledger.Book.read(target).launch_room()
    assert need == int(0.9 * 24 * GIB)


def test_one_read_of_the_ledger_answers_a_switch_in_four_queries(
    gpu: Gpu, django_assert_max_num_queries: Any
) -> None:
    row(gpu, "older", S.AWAKE, state_changed_at=timezone.now() - timedelta(minutes=2))
    row(gpu, "newer", S.AWAKE)
    target = row(gpu, "target", S.SLEEPING)
    sample(gpu, {"older": 14 * GIB, "newer": 14 * GIB})
    with django_assert_max_num_queries(4):
        book = ledger.Book.read(Instance.objects.get(pk=target.pk), [gpu])
    need, rooms = book.wake_room()
    assert [n.name for n in book.neighbours()] == ["older", "newer"], "least recent first"
    (relieved,) = book.relieved(rooms, book.neighbours()[:1])
    assert rooms[0].used_bytes - relieved.used_bytes == 14 * GIB
    assert need == 14 * GIB


def test_a_switch_promises_the_target_its_room_before_its_evictions_sleep(gpu: Gpu) -> None:
    evicted = row(gpu, "evicted", S.AWAKE, host=gpu.host)
    target = row(gpu, "target", S.SLEEPING, host=gpu.host)
    third = row(gpu, "third", S.SLEEPING, host=gpu.host)
    plan, refusal = switch.plan_and_reserve(target, [], 1)
    assert refusal is None
    assert [e.instance.pk for e in plan.evictions] == [evicted.pk]
    assert not plan.wake_first
    assert plan.target_level == 1
    target.refresh_from_db()
    assert target.state == S.WAKING
    assert target.state_detail == "making room: putting evicted to sleep"
    # The evicted one still holds its memory, the target is promised its own: no third wake.
    with pytest.raises(JobRefusedError, match=r"needs 14\.0 GiB on GPU 0"):
        ledger.reserve(third, {S.SLEEPING}, S.WAKING)


def test_a_switch_whose_eviction_is_refused_gives_the_promised_room_back(gpu: Gpu) -> None:
    victim = row(gpu, "victim", S.AWAKE, host=gpu.host)
    target = row(gpu, "target", S.SLEEPING, host=gpu.host)
    # Host RAM cannot take the victim's level-1 backup (8 GiB of weights, 1 GiB free).
    MemorySample.objects.create(
        at=timezone.now(), subject=Subject.HOST, host=gpu.host, used_bytes=15 * GIB,
        total_bytes=16 * GIB,
    )  # fmt: skip
    job = Job.objects.create(instance=target, kind=JobKind.SWITCH, params={"level": 1})
    with pytest.raises(JobRefusedError, match="host RAM"):
        switch.switch_to(job, JobOutcome())
    target.refresh_from_db()
    victim.refresh_from_db()
    assert (target.state, target.sleep_level, target.state_detail) == (S.SLEEPING, 1, "")
    assert victim.state == S.AWAKE


@pytest.mark.slow
def test_two_wakes_asked_at_once_never_overcommit_the_gpu(make_instance: InstanceFactory) -> None:
    # Two engines of 8 + 6 GiB on a 24 GiB GPU: one can be awake, never both.
    first = make_instance("left", weights_gib=8, kv_gib=6)
    second = make_instance("right", weights_gib=8, kv_gib=6)
    for instance in (first, second):
        assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
        assert run_job(instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    for attempt in range(50):
        # Alternate who asks first; both jobs run on the control worker's threads at once.
        pair = (first, second) if attempt % 2 else (second, first)
        jobs = [request_job(JobRequest(i.pk, JobKind.WAKE, {})) for i in pair]
        jobs = [wait_finished(job) for job in jobs]
        won = [job for job in jobs if job.state == JobState.SUCCEEDED]
        lost = [job for job in jobs if job.state == JobState.FAILED]
        outcomes = [(j.state, j.error) for j in jobs]
        assert len(won) == 1, outcomes
        assert len(lost) == 1, outcomes
        assert re.search(r"needs 14\.\d GiB on GPU 0 but only", lost[0].error), lost[0].error
        assert run_job(won[0].instance, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    assert not EngineEvent.objects.filter(kind="wake_oom").exists(), "no engine ran out"
    states = set(Instance.objects.values_list("state", flat=True))
    assert states == {S.SLEEPING}


@pytest.mark.slow
def test_a_switch_ends_before_its_evidence_which_lands_on_every_step(
    make_instance: InstanceFactory,
) -> None:
    incoming = make_instance("inbound", weights_gib=8, kv_gib=6)
    outgoing = make_instance("outbound", weights_gib=8, kv_gib=6)
    assert run_job(incoming, JobKind.LAUNCH).state == JobState.SUCCEEDED
    assert run_job(incoming, JobKind.SLEEP, level=1).state == JobState.SUCCEEDED
    launch = run_job(outgoing, JobKind.LAUNCH)
    assert launch.state == JobState.SUCCEEDED
    # A GPU at rest before the switch: one sample after the launch (the agent takes five a
    # second here), else the switch's "before" is rightly unknown.
    assert gpu_used_bytes(outgoing, after=launch.finished_at, deadline=time.monotonic() + 5)
    switch = run_job(incoming, JobKind.SWITCH, level=1)
    assert switch.state == JobState.SUCCEEDED, switch.error
    assert switch.outcome_detail["evidence"] == "pending"
    assert switch.engine_seconds is None, "no figure waited for on the critical path"
    switch = with_evidence(switch, timeout=10)
    sleep, wake = switch.outcome_detail["steps"]
    assert (sleep["step"], wake["step"]) == ("sleep", "wake")
    assert sleep["engine_seconds"] > 0
    assert sleep["backed_up_gib"] == pytest.approx(8, abs=0.01)
    assert wake["engine_seconds"] > 0
    # Before the switch's first call and after its last: samples of a GPU at rest. Between
    # its two calls (tens of milliseconds) a sample is used only if one fell there.
    assert sleep["gpu_used_before_bytes"] is not None
    assert wake["gpu_used_after_bytes"] is not None
    assert switch.engine_seconds == pytest.approx(
        sleep["engine_seconds"] + wake["engine_seconds"], abs=0.002
    )
    assert switch.gpu_used_before_bytes == sleep["gpu_used_before_bytes"]
    assert switch.gpu_used_after_bytes == wake["gpu_used_after_bytes"]
    assert "fall asleep" in switch.log_excerpt
    assert "wake up" in switch.log_excerpt
