"""Instance state moves: the table, the conditional update, and races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection

from console.models import (
    TRANSITIONS,
    IllegalTransitionError,
    Instance,
    InstanceState,
    transition,
)

S = InstanceState
InstanceFactory = Callable[..., Instance]


def test_allowed_transition_moves_the_row_and_stamps_the_time(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance(state=S.AWAKE)
    before = instance.state_changed_at
    assert transition(instance.pk, {S.AWAKE}, S.FALLING_ASLEEP, state_detail="sleep 1")
    instance.refresh_from_db()
    assert instance.state == S.FALLING_ASLEEP
    assert instance.state_detail == "sleep 1"
    assert instance.state_changed_at > before


def test_illegal_transition_is_refused_without_touching_the_row(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance(state=S.STOPPED)
    with pytest.raises(IllegalTransitionError, match="stopped -> waking"):
        transition(instance.pk, {S.STOPPED}, S.WAKING)
    instance.refresh_from_db()
    assert instance.state == S.STOPPED


def test_transition_from_a_state_the_row_is_not_in_returns_false(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance(state=S.AWAKE)
    assert not transition(instance.pk, {S.SLEEPING}, S.WAKING)
    instance.refresh_from_db()
    assert instance.state == S.AWAKE


def test_going_to_sleep_needs_a_level(make_instance: InstanceFactory) -> None:
    instance = make_instance(state=S.FALLING_ASLEEP)
    with pytest.raises(ValueError, match="sleep_level"):
        transition(instance.pk, {S.FALLING_ASLEEP}, S.SLEEPING)


def test_leaving_sleep_clears_the_level(make_instance: InstanceFactory) -> None:
    instance = make_instance(state=S.FALLING_ASLEEP)
    assert transition(instance.pk, {S.FALLING_ASLEEP}, S.SLEEPING, sleep_level=2)
    assert transition(instance.pk, {S.SLEEPING}, S.WAKING)
    instance.refresh_from_db()
    assert (instance.state, instance.sleep_level) == (S.WAKING, None)


def test_database_refuses_a_sleep_level_outside_sleeping(make_instance: InstanceFactory) -> None:
    with pytest.raises(IntegrityError):
        make_instance(state=S.AWAKE, sleep_level=1)


def test_every_state_can_fail_to_error() -> None:
    assert all((state, S.ERROR) in TRANSITIONS for state in S if state != S.ERROR)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transitions_from_the_same_state_have_one_winner() -> None:
    instance = Instance.objects.create(
        name="racer", served_model_name="m", base_url="http://127.0.0.1:1", state=S.AWAKE
    )
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def attempt() -> None:
        try:
            barrier.wait()
            results.append(transition(instance.pk, {S.AWAKE}, S.FALLING_ASLEEP))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]


def test_an_instance_lives_through_launch_sleep_wake_and_stop(
    make_instance: InstanceFactory,
) -> None:
    instance = make_instance()
    lifecycle: list[tuple[InstanceState, InstanceState, dict[str, Any]]] = [
        (S.STOPPED, S.STARTING, {}),
        (S.STARTING, S.AWAKE, {"pid": 4242}),
        (S.AWAKE, S.FALLING_ASLEEP, {}),
        (S.FALLING_ASLEEP, S.SLEEPING, {"sleep_level": 1}),
        (S.SLEEPING, S.WAKING, {}),
        (S.WAKING, S.AWAKE, {}),
        (S.AWAKE, S.STOPPING, {}),
        (S.STOPPING, S.STOPPED, {"pid": None}),
    ]
    for source, target, fields in lifecycle:
        assert transition(instance.pk, {source}, target, **fields), f"{source} -> {target}"
    instance.refresh_from_db()
    assert (instance.state, instance.pid, instance.sleep_level) == (S.STOPPED, None, None)
