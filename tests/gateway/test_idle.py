"""The idle policy: T1 to level 1, T2 to level 2, pinned instances, what counts as activity."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from console.jobs.idle import run_idle_policy
from console.models import Instance, InstanceState, Job, JobKind, JobState
from tests.gateway.conftest import post_completion
from tests.jobs.conftest import InstanceFactory, run_job

pytestmark = pytest.mark.slow


def launched(make_instance: InstanceFactory, name: str, **fields: object) -> Instance:
    instance = make_instance(name, **fields)
    assert run_job(instance, JobKind.LAUNCH).state == JobState.SUCCEEDED
    instance.refresh_from_db()
    return instance


def policy_until(
    instance: Instance,
    done: Callable[[Instance], bool],
    timeout: float,
    between: Callable[[], object] = lambda: None,
) -> float:
    """Run the policy's rounds (as beat would) until ``done``; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        run_idle_policy()
        between()
        time.sleep(0.2)
        instance.refresh_from_db()
        if done(instance):
            return time.monotonic() - started
    raise AssertionError(f"{instance.name} is {instance.state} (level {instance.sleep_level})")


def sleeping_at(level: int) -> Callable[[Instance], bool]:
    return lambda i: i.state == InstanceState.SLEEPING and i.sleep_level == level


def test_an_idle_instance_sleeps_at_level_1_after_t1(make_instance: InstanceFactory) -> None:
    instance = launched(make_instance, "alpha", idle_sleep_l1_seconds=1)
    assert policy_until(instance, sleeping_at(1), timeout=15) >= 0.8


def test_with_t1_off_an_idle_instance_sleeps_at_level_2_after_t2(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "beta", idle_sleep_l2_seconds=1)
    policy_until(instance, sleeping_at(2), timeout=15)


def test_a_level_1_sleeper_goes_to_level_2_after_t2_more(make_instance: InstanceFactory) -> None:
    instance = launched(make_instance, "gamma", idle_sleep_l1_seconds=1, idle_sleep_l2_seconds=1)
    policy_until(instance, sleeping_at(1), timeout=15)
    policy_until(instance, sleeping_at(2), timeout=20)
    kinds = list(Job.objects.filter(instance=instance).order_by("pk").values_list("kind", "params"))
    assert kinds[1:] == [("sleep", {"level": 1}), ("wake", {}), ("sleep", {"level": 2})]


def test_a_pinned_instance_never_sleeps(make_instance: InstanceFactory) -> None:
    instance = launched(make_instance, "delta", idle_sleep_l1_seconds=1, pinned_awake=True)
    with pytest.raises(AssertionError, match="is awake"):
        policy_until(instance, sleeping_at(1), timeout=2.5)
    assert not Job.objects.filter(instance=instance).exclude(kind=JobKind.LAUNCH).exists()


def test_metrics_and_health_polling_do_not_keep_an_instance_awake(
    make_instance: InstanceFactory,
) -> None:
    instance = launched(make_instance, "epsilon", idle_sleep_l1_seconds=1)

    def scrape() -> None:
        assert httpx.get(f"{instance.base_url}/metrics").status_code == 200
        assert httpx.get(f"{instance.base_url}/health").status_code == 200

    policy_until(instance, sleeping_at(1), timeout=15, between=scrape)


def test_gateway_requests_keep_an_instance_awake(
    make_instance: InstanceFactory, gateway: str, inference_key: str
) -> None:
    instance = launched(make_instance, "zeta", idle_sleep_l1_seconds=1)

    def ask() -> None:
        response = post_completion(gateway, inference_key, instance.served_model_name)
        assert response.status_code == 200

    with pytest.raises(AssertionError, match="is awake"):
        policy_until(instance, sleeping_at(1), timeout=3, between=ask)
