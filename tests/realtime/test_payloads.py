"""Events built from rows: the figures they carry and the fields they never carry."""

from __future__ import annotations

import pytest

from console.models import EngineEvent, InstanceState
from console.realtime import payloads
from tests.console.conftest import create_instance

pytestmark = pytest.mark.django_db


def test_a_parsed_log_event_takes_its_figures_from_the_parsers_data() -> None:
    instance = create_instance()
    row = EngineEvent.objects.create(
        instance=instance, kind="sleep", message="It took 6.5 seconds to fall asleep.",
        data={"event": "sleep", "seconds": 6.5, "freed_gib": 75.16},
    )  # fmt: skip
    event = payloads.engine_event(row)
    assert (event["seconds"], event["freed_gib"]) == (6.5, 75.16)


def test_the_rows_own_figures_win_over_the_data() -> None:
    row = EngineEvent.objects.create(
        instance=create_instance(), kind="wake", seconds=1.54, data={"seconds": 9.0}
    )
    assert payloads.engine_event(row)["seconds"] == 1.54


def test_an_instance_payload_has_no_secret_fields() -> None:
    instance = create_instance(api_key="sk-x", launch_env={"HF_TOKEN": "t"})
    payload = payloads.instance_payload(instance)
    assert not {"api_key", "launch_env", "base_url", "launch_args"} & set(payload)
    assert "sk-x" not in str(payload)


def test_an_instance_state_event_says_the_sleep_level() -> None:
    instance = create_instance(state=InstanceState.SLEEPING, sleep_level=2)
    assert payloads.instance_state(instance)["sleep_level"] == 2
