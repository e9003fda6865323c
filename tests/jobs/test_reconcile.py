"""Reconcile: the engine is the truth; the row follows it, both ways."""

from __future__ import annotations

import pytest

from console.jobs.reconcile import reconcile_all, reconcile_one
from console.models import EngineEvent, Instance, InstanceState
from tests.conftest import EmulatorFactory
from tests.support.emulator import free_port

pytestmark = pytest.mark.django_db

FAST = (
    "--enable-sleep-mode",
    "--weights-gib",
    "1",
    "--kv-cache-gib",
    "1",
    "--startup-seconds",
    "0",
)


MODEL = "facebook/opt-125m"  # the emulator's default (tests.support.emulator)


def registered(base_url: str, state: InstanceState) -> Instance:
    return Instance.objects.create(
        name="registered", served_model_name=MODEL, base_url=base_url, state=state
    )


def test_an_engine_that_came_back_is_picked_up_again(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.17.0") as engine:
        instance = registered(engine.url, InstanceState.ERROR)
        assert reconcile_all() == ["registered: console had error, engine reports awake"]
        instance.refresh_from_db()
        assert instance.state == InstanceState.AWAKE
        assert instance.vllm_version == "0.17.0"
        assert instance.last_seen is not None


def test_an_engine_that_stopped_answering_becomes_an_error() -> None:
    instance = registered(f"http://127.0.0.1:{free_port()}", InstanceState.AWAKE)
    (change,) = reconcile_all()
    assert change.startswith("registered: engine not answering")
    instance.refresh_from_db()
    assert instance.state == InstanceState.ERROR
    assert EngineEvent.objects.get(instance=instance).kind == "engine_unreachable"


def test_an_engine_that_agrees_is_left_alone(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.33.0") as engine:
        registered(engine.url, InstanceState.AWAKE)
        assert reconcile_all() == []
        assert not EngineEvent.objects.exists()


def test_a_stopped_instance_whose_engine_answers_is_adopted(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.17.0") as engine:
        instance = registered(engine.url, InstanceState.STOPPED)
        assert reconcile_all() == ["registered: console had stopped, engine reports awake"]
    instance.refresh_from_db()
    assert (instance.state, instance.vllm_version) == (InstanceState.AWAKE, "0.17.0")


def test_a_stopped_instance_with_nothing_answering_stays_stopped() -> None:
    instance = registered(f"http://127.0.0.1:{free_port()}", InstanceState.STOPPED)
    assert reconcile_all() == []
    instance.refresh_from_db()
    assert instance.state == InstanceState.STOPPED
    assert not EngineEvent.objects.exists()


def test_an_engine_serving_another_model_is_an_error_naming_both(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST) as engine:
        instance = registered(engine.url, InstanceState.STOPPED)
        instance.served_model_name = "org/other"
        instance.save(update_fields=["served_model_name"])
        reconcile_all()
    instance.refresh_from_db()
    assert instance.state == InstanceState.ERROR
    assert f"serves {MODEL}, not org/other" in instance.state_detail
    assert EngineEvent.objects.get(instance=instance).kind == "wrong_model"


def test_reconcile_one_probes_only_that_instance(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as engine:
        instance = registered(engine.url, InstanceState.STOPPED)
        other = Instance.objects.create(name="other", served_model_name=MODEL, base_url=engine.url)
        assert reconcile_one(instance.pk) == "console had stopped, engine reports awake"
    other.refresh_from_db()
    assert other.state == InstanceState.STOPPED
