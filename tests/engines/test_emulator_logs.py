"""The emulator's log lines: record layout per version, and a round trip through the parser."""

from __future__ import annotations

import re
import time

import pytest

from engines.logparser import EngineLogEvent, EventKind, parse_text
from tests.conftest import EmulatorFactory
from tests.engines.conftest import FAST, complete, post
from tests.support.emulator import EmulatorProcess

KV_TOKENS = 4 * 1024 * 8  # 4 GiB at 128 KiB per token


def _by_kind(emu: EmulatorProcess) -> dict[EventKind, list[EngineLogEvent]]:
    found: dict[EventKind, list[EngineLogEvent]] = {}
    for event in parse_text(emu.log_text()):
        found.setdefault(event.event, []).append(event)
    return found


@pytest.mark.parametrize("version", ["0.7.3", "0.8.5", "0.11.0", "0.17.0", "0.33.0"])
def test_startup_sleep_and_wake_lines_parse_into_the_modelled_figures(
    emulator_factory: EmulatorFactory, version: str
) -> None:
    with emulator_factory(*FAST, version=version) as emu:
        post(emu, "/sleep?level=1")
        post(emu, "/wake_up")
        found = _by_kind(emu)
    (loaded,) = found[EventKind.MODEL_LOADED]
    assert loaded.gib == 2.0
    assert [e.tokens for e in found[EventKind.KV_CACHE]] == [KV_TOKENS]
    assert [e.url for e in found[EventKind.SERVER_STARTED]] == [f"http://127.0.0.1:{emu.port}"]
    (freed,) = found[EventKind.SLEEP_FREED]
    assert (freed.freed_gib, freed.still_in_use_gib) == (6.0, 0.25)
    (asleep,) = found[EventKind.SLEEP]
    assert 0 < (asleep.seconds or 0) < 1
    (woke,) = found[EventKind.WAKE]
    assert woke.tags == (None if version == "0.7.3" else ("kv_cache", "weights"))


def test_cumem_line_carries_backed_up_and_discarded_gib(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        (cumem,) = _by_kind(emu)[EventKind.CUMEM_FREED]
    assert (cumem.freed_gib, cumem.backed_up_gib, cumem.discarded_gib) == (6.0, 2.0, 4.0)
    assert cumem.pid == emu.process.pid


def test_crash_lines_parse_as_engine_dead(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST) as emu:
        post(emu, "/sleep?level=1")
        complete(emu)
        emu.process.wait(timeout=15)
    assert EventKind.ENGINE_DEAD in _by_kind(emu)


def test_0_7_3_records_have_no_opening_bracket(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.7.3") as emu:
        post(emu, "/sleep?level=1")
        assert re.search(
            r"^INFO \d\d-\d\d \d\d:\d\d:\d\d executor_base\.py:208\] It took [\d.]+ seconds "
            r"to fall asleep\.$",
            emu.log_text(),
            re.MULTILINE,
        )


def test_0_11_prefix_is_coloured_and_precedes_the_logging_prefix(
    emulator_factory: EmulatorFactory,
) -> None:
    env = {"NO_COLOR": "1", "VLLM_LOGGING_PREFIX": "[node1] "}
    with emulator_factory(*FAST, env=env) as emu:
        pid = emu.process.pid
        assert f"\x1b[1;36m(APIServer pid={pid})\x1b[0;0m [node1] INFO " in emu.log_text()


def test_0_12_respects_no_color(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, version="0.12.0", env={"NO_COLOR": "1"}) as emu:
        assert "\x1b[" not in emu.log_text()
        assert f"(APIServer pid={emu.process.pid}) INFO " in emu.log_text()


def test_0_31_prefix_is_inside_the_record_and_uvicorn_lines_have_none(
    emulator_factory: EmulatorFactory,
) -> None:
    env = {"VLLM_LOGGING_PREFIX": "[node1] "}
    with emulator_factory(*FAST, version="0.33.0", env=env) as emu:
        log = emu.log_text()
        assert f"[node1] (APIServer pid={emu.process.pid}) INFO " in log
        assert re.search(
            r'^INFO:     127\.0\.0\.1:\d+ - "GET /health HTTP/1\.1" 200 OK$', log, re.M
        )
        assert "Starting vLLM server on http://127.0.0.1:" in log


def test_throughput_line_is_logged_while_requests_run(emulator_factory: EmulatorFactory) -> None:
    with emulator_factory(*FAST, env={"VLLM_LOG_STATS_INTERVAL": "0.2"}) as emu:
        complete(emu)
        time.sleep(0.5)
        assert re.search(
            r"\[loggers\.py:128\] Engine 000: Avg prompt throughput: [\d.]+ tokens/s, "
            r"Avg generation throughput: [1-9][\d.]* tokens/s, Running: 0 reqs, Waiting: 0 reqs",
            emu.log_text(),
        )
