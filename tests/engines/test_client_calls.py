"""The requests the client builds per vLLM version, checked before any I/O."""

from __future__ import annotations

import pytest

from engines.client import Timeouts
from engines.client.calls import (
    Budget,
    collective_rpc_call,
    completion_call,
    is_sleeping_call,
    require_level2_wake,
    reset_prefix_cache_call,
    sleep_call,
    wake_call,
)
from engines.errors import UnsupportedByVersion
from engines.versions import features

V073 = features("0.7.3")
V080 = features("0.8.0")
V085 = features("0.8.5")
V0101 = features("0.10.1")
V011 = features("0.11.0")
V017 = features("0.17.0")
V033 = features("0.33.0")


def test_sleep_sends_the_level_in_the_query_string_and_no_body() -> None:
    call = sleep_call(V011, 2, None)

    assert (call.method, call.path, call.params, call.body) == (
        "POST",
        "/sleep",
        (("level", "2"),),
        None,
    )


def test_sleep_sends_the_default_level_explicitly() -> None:
    assert sleep_call(V073, 1, None).params == (("level", "1"),)


def test_sleep_level_zero_is_unsupported_before_0_17() -> None:
    with pytest.raises(UnsupportedByVersion, match=r"0\.11\.0 has no sleep level 0"):
        sleep_call(V011, 0, None)


def test_sleep_level_zero_is_sent_from_0_17() -> None:
    assert sleep_call(V017, 0, None).params == (("level", "0"),)


@pytest.mark.parametrize("level", [-1, 3, 7])
def test_sleep_refuses_levels_vllm_would_misread(level: int) -> None:
    with pytest.raises(ValueError, match="sleep level must be one of"):
        sleep_call(V033, level, None)


def test_sleep_mode_is_sent_from_0_17() -> None:
    assert sleep_call(V017, 1, "wait").params == (("level", "1"), ("mode", "wait"))


def test_sleep_mode_is_unsupported_before_0_17() -> None:
    with pytest.raises(UnsupportedByVersion, match="mode"):
        sleep_call(V011, 1, "wait")


def test_wake_without_tags_sends_no_parameters() -> None:
    call = wake_call(V073, None)

    assert (call.path, call.params, call.wakes) == ("/wake_up", (), True)


def test_wake_tags_are_repeated_query_parameters() -> None:
    call = wake_call(V085, ["weights", "kv_cache"])

    assert call.params == (("tags", "weights"), ("tags", "kv_cache"))
    assert call.body is None


def test_wake_tags_are_unsupported_before_0_8_5() -> None:
    with pytest.raises(UnsupportedByVersion, match=r"0\.8\.0 has no wake_up tags"):
        wake_call(V080, ["weights"])


@pytest.mark.parametrize("tags", [[], "weights", ["weight"]])
def test_wake_refuses_tags_vllm_would_silently_ignore(tags: list[str] | str) -> None:
    with pytest.raises(ValueError, match="tag"):
        wake_call(V011, tags)


def test_scheduling_tag_exists_only_from_0_17() -> None:
    with pytest.raises(ValueError, match="unknown wake tags"):
        wake_call(V011, ["scheduling"])
    assert wake_call(V017, ["scheduling"]).params == (("tags", "scheduling"),)


def test_is_sleeping_is_unsupported_before_0_8() -> None:
    with pytest.raises(UnsupportedByVersion, match="is_sleeping"):
        is_sleeping_call(V073)


def test_collective_rpc_sends_the_method_as_json() -> None:
    call = collective_rpc_call(V011, "reload_weights")

    assert (call.path, call.body, call.budget) == (
        "/collective_rpc",
        {"method": "reload_weights"},
        Budget.SLOW,
    )


def test_collective_rpc_is_unsupported_before_0_10_2() -> None:
    with pytest.raises(UnsupportedByVersion, match=r"0\.10\.1 has no POST /collective_rpc"):
        collective_rpc_call(V0101, "reload_weights")


def test_reset_prefix_cache_is_unsupported_before_0_8() -> None:
    with pytest.raises(
        UnsupportedByVersion, match=r"0\.7\.3 has no POST /reset_prefix_cache"
    ) as caught:
        reset_prefix_cache_call(V073)

    assert caught.value.operation == "reset_prefix_cache"


def test_reset_prefix_cache_is_a_dev_endpoint_from_0_8() -> None:
    call = reset_prefix_cache_call(V080)

    assert (call.method, call.path, call.dev) == ("POST", "/reset_prefix_cache", True)


def test_level2_wake_is_refused_with_the_alternative_where_weights_cannot_be_reloaded() -> None:
    with pytest.raises(UnsupportedByVersion, match="use sleep level 1") as caught:
        require_level2_wake(V085)

    assert caught.value.operation == "wake_level2"


def test_warmup_asks_for_a_single_greedy_token() -> None:
    body = completion_call("opt").body

    assert body is not None
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("opt", 1, 0)


def test_slow_calls_get_minutes_and_quick_calls_the_client_timeout() -> None:
    timeouts = Timeouts()

    assert timeouts.read(sleep_call(V011, 1, None).budget, 10.0) == 600.0
    assert timeouts.read(Budget.HEALTH, 10.0) == 5.0
    assert timeouts.read(is_sleeping_call(V011).budget, 3.0) == 3.0
