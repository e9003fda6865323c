"""Sleep and wake with vLLM's semantics, per version (docs/vllm-behaviour.md §2.3-2.6 and §3)."""

from __future__ import annotations

import pytest

from engines.logparser import EventKind
from tests.conftest import EmulatorFactory
from tests.engines.conftest import (
    FAST,
    SharedEmulator,
    completion_text,
    events,
    get,
    is_sleeping,
    post,
)


def test_level_in_a_json_body_is_ignored(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        assert post(emu, "/sleep", json={"level": 2}).status_code == 200
        (cumem,) = events(emu, EventKind.CUMEM_FREED)
        assert cumem.backed_up_gib == 2.0  # level 1: the weights went to host memory


def test_level_two_in_the_query_discards_the_weights(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=2")
        (cumem,) = events(emu, EventKind.CUMEM_FREED)
        assert (cumem.freed_gib, cumem.backed_up_gib, cumem.discarded_gib) == (6.0, 0.0, 6.0)


def test_sleep_and_wake_answer_empty_bodies_before_0_32(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.31.0") as emu:
        sleep, wake = post(emu, "/sleep?level=1"), post(emu, "/wake_up")
        assert (sleep.status_code, sleep.content, wake.status_code, wake.content) == (
            200, b"", 200, b"",
        )  # fmt: skip


def test_sleep_and_wake_answer_json_from_0_32(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.33.0") as emu:
        assert post(emu, "/sleep?level=2").json() == {"status": "sleeping", "level": 2}
        partial = post(emu, "/wake_up", params={"tags": ["weights"]}).json()
        assert partial == {"status": "sleeping", "tags": ["weights"]}
        assert post(emu, "/wake_up").json() == {"status": "awake", "tags": None}


@pytest.mark.parametrize(("query", "param"), [
    ("level=3", "query.level"), ("level=-1", "query.level"), ("level=abc", "query.level"),
    ("mode=later", "query.mode"),
])  # fmt: skip
def test_invalid_sleep_parameters_are_400_from_0_32(
    shared_emulator: SharedEmulator, query: str, param: str
) -> None:
    emu = shared_emulator("0.33.0")
    answer = post(emu, f"/sleep?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    assert answer.json()["error"]["type"] == "Bad Request"
    assert is_sleeping(emu) is False


def test_non_integer_level_is_a_bare_500_before_0_32(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator()
    answer = post(emu, "/sleep?level=abc")
    assert (answer.status_code, answer.text) == (500, "Internal Server Error")
    assert "Exception in ASGI application" in emu.wait_for_log("Exception in ASGI application")


def test_weights_only_wake_leaves_the_engine_sleeping(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up", params={"tags": ["weights"]})
        assert is_sleeping(emu) is True
        post(emu, "/wake_up", params={"tags": ["kv_cache"]})
        assert is_sleeping(emu) is False


def test_unknown_tag_is_a_logged_no_op(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        assert post(emu, "/wake_up", params={"tags": ["gpu"]}).status_code == 200
        assert is_sleeping(emu) is True
        assert "Tag gpu is not in sleeping tags {'weights', 'kv_cache'}" in emu.log_text()


def test_second_sleep_only_warns(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        assert post(emu, "/sleep?level=2").status_code == 200
        assert "WARNING 1" in emu.log_text()  # the record's level, then the date
        assert "Executor is already sleeping." in emu.log_text()
        assert len(events(emu, EventKind.SLEEP)) == 1


def test_waking_an_awake_engine_only_warns(shared_emulator: SharedEmulator) -> None:
    emu = shared_emulator()
    assert post(emu, "/wake_up").status_code == 200
    assert "Executor is not sleeping." in emu.log_text()


def test_first_level_one_sleep_pays_the_pinned_allocation(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST[:-1], "0.05") as emu:
        for _ in range(2):
            post(emu, "/sleep?level=1")
            post(emu, "/wake_up")
        first, second = (event.seconds or 0.0 for event in events(emu, EventKind.SLEEP))
        # 2 GiB: 0.57 s/GiB to pin, a 53 GB/s copy, 6 GiB unmapped at 2 ms/GiB; all x0.05.
        modelled = 0.05 * (2 * 0.57 + 2 * 2**30 / 53e9 + 6 * 0.002)
        assert modelled <= first < modelled + 0.2
        assert second < first / 4


def test_level_one_wake_copies_the_weights_at_the_link_rate(
    emulator_factory: EmulatorFactory,
) -> None:
    args = (*FAST[:-1], "1", "--pin-alloc-s-per-gib", "0", "--h2d-gbps", "20")
    with emulator_factory(*args) as emu:
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up")
        (woke,) = events(emu, EventKind.WAKE)
        modelled = 2 * 2**30 / 20e9 + 6 * 0.002  # 2 GiB at 20 GB/s, 6 GiB re-mapped
        assert modelled <= (woke.seconds or 0.0) < modelled + 0.2


def test_level_two_wake_without_reload_answers_garbage(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        before = completion_text(emu)
        post(emu, "/sleep?level=2")
        post(emu, "/wake_up")
        assert completion_text(emu) == "!" * 8
        assert post(emu, "/collective_rpc", json={"method": "reload_weights"}).json() == {
            "results": [None]
        }
        assert completion_text(emu) == before
        assert "Reloading weights inplace..." in emu.log_text()


def test_level_one_wake_keeps_the_answers(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        before = completion_text(emu)
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up")
        assert completion_text(emu) == before


def test_sleep_without_sleep_mode_frees_nothing(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST[1:]) as emu:
        post(emu, "/sleep?level=1")
        (freed,) = events(emu, EventKind.SLEEP_FREED)
        assert freed.freed_gib == 0.0
        assert is_sleeping(emu) is True


def test_0_7_3_has_no_is_sleeping_and_wakes_without_tags(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.7.3") as emu:
        assert get(emu, "/is_sleeping").status_code == 404
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up", params={"tags": ["weights"]})  # ignored: wakes everything
        (wake,) = events(emu, EventKind.WAKE)
        assert wake.tags is None
        assert "sleep the engine with level 1" in emu.log_text()


def test_0_8_5_wakes_by_tag(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.8.5") as emu:
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up", params={"tags": ["weights"]})
        assert is_sleeping(emu) is True
        assert events(emu, EventKind.WAKE)[0].tags == ("weights",)


def test_0_17_level_zero_pauses_scheduling_only(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.17.0") as emu:
        post(emu, "/sleep?level=0")
        assert is_sleeping(emu) is True
        assert events(emu, EventKind.SLEEP) == []
        post(emu, "/wake_up", params={"tags": ["scheduling"]})
        assert is_sleeping(emu) is False


@pytest.mark.parametrize(("version", "logged"), [("0.16.0", True), ("0.33.0", False)])
def test_is_sleeping_polls_are_logged_until_0_18(
    shared_emulator: SharedEmulator, version: str, logged: bool
) -> None:
    emu = shared_emulator(version)
    is_sleeping(emu)
    assert ("check whether the engine is sleeping" in emu.log_text()) is logged


def test_collective_rpc_does_not_exist_before_0_10_2(shared_emulator: SharedEmulator) -> None:
    answer = post(shared_emulator("0.10.0"), "/collective_rpc", json={"method": "x"})
    assert answer.status_code == 404


def test_collective_rpc_without_method_is_400(shared_emulator: SharedEmulator) -> None:
    answer = post(shared_emulator(), "/collective_rpc", json={"args": []})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Missing 'method' in request body"


@pytest.mark.parametrize(("version", "status"), [("0.7.3", 404), ("0.8.0", 200)])
def test_reset_prefix_cache_exists_from_0_8(
    shared_emulator: SharedEmulator, version: str, status: int
) -> None:
    assert post(shared_emulator(version), "/reset_prefix_cache").status_code == status


@pytest.mark.parametrize(("version", "body"), [("0.16.0", b""), ("0.33.0", b'{"success":true}')])
def test_reset_prefix_cache_answers_json_from_0_26(
    shared_emulator: SharedEmulator, version: str, body: bytes
) -> None:
    answer = post(shared_emulator(version), "/reset_prefix_cache")
    assert (answer.status_code, answer.content) == (200, body)


def test_release_kv_cache_memory_needs_a_pause(shared_emulator: SharedEmulator) -> None:
    answer = post(shared_emulator("0.33.0"), "/release_kv_cache_memory")
    assert answer.status_code == 500


def test_release_kv_cache_memory_drops_only_the_kv_cache(
    emulator_factory: EmulatorFactory,
) -> None:
    with emulator_factory(*FAST, version="0.33.0") as emu:
        post(emu, "/pause")
        released = post(emu, "/release_kv_cache_memory")
        assert released.json() == {"status": "kv_cache_released"}
        assert "CuMemAllocator: discarded 4.00 GiB for tags ('kv_cache',)." in emu.log_text()
        assert is_sleeping(emu) is True
        post(emu, "/wake_up", params={"tags": ["kv_cache"]})
        post(emu, "/resume")
        assert is_sleeping(emu) is False
