"""The emulator at ``--emulate-version 0.25.0`` answers and logs as a real vLLM 0.25.0 did.

The real side is the recorded transcript (tests/engines/fixtures/real-vllm-0.25.0/, an H200,
Llama-8B shape, ``--load-format dummy``, 2026-12-03); the same calls are replayed against the
emulator started with the same flags, and each step is compared: status codes, the bodies
that matter, ``/is_sleeping`` and ``vllm:engine_sleep_state``, the request held while
asleep, the connection closed after a 500, and the log lines (every line the parser knows
parses to the same event, and prints in the same format from the same ``file:line``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engines.real_vllm import (
    HELD_STEP,
    Step,
    client_port,
    events,
    figures,
    known_templates,
    real_steps,
    replayed_emulator,
)

REAL = real_steps()
WITH_JSON = [name for name, step in REAL.items() if "json" in step]
WITH_METRICS = [name for name, step in REAL.items() if "sleep_state" in step]
WITH_EVENTS = [name for name, step in REAL.items() if step["events"]]


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Step]]:
    with replayed_emulator(tmp_path_factory.mktemp("conformance")) as steps:
        yield steps


def test_the_fixture_is_a_real_0_25_0_transcript() -> None:
    assert REAL["version"]["json"] == {"version": "0.25.0"}
    assert len(REAL) >= 40


@pytest.mark.parametrize("name", list(REAL))
def test_status_code_matches_the_real_engine(emulated: dict[str, Step], name: str) -> None:
    assert emulated[name]["status"] == REAL[name]["status"]


@pytest.mark.parametrize("name", WITH_JSON)
def test_body_that_matters_matches_the_real_engine(emulated: dict[str, Step], name: str) -> None:
    real, emu = REAL[name]["json"], emulated[name].get("json")
    if name.startswith("completion"):
        real = {k: real[k] for k in ("object", "finish_reason")}
    assert emu == real


@pytest.mark.parametrize("name", [n for n in REAL if REAL[n]["path"] in ("/sleep", "/wake_up")])
def test_sleep_and_wake_answer_an_empty_body_as_0_25_does(
    emulated: dict[str, Step], name: str
) -> None:
    assert REAL[name]["body_length"] == 0
    assert emulated[name]["body_length"] == 0


@pytest.mark.parametrize("name", WITH_METRICS)
def test_engine_sleep_state_metric_matches(emulated: dict[str, Step], name: str) -> None:
    assert emulated[name]["sleep_state"] == REAL[name]["sleep_state"]


def test_is_sleeping_says_true_while_the_metric_says_awake_after_a_weights_only_wake(
    emulated: dict[str, Step],
) -> None:
    for side in (REAL, emulated):
        assert side["is_sleeping_weights_after_l2"]["json"] == {"is_sleeping": True}
        assert side["metrics_weights_after_l2"]["sleep_state"]["awake"] == 1.0


def test_a_completion_sent_while_asleep_is_held_and_answered_after_the_wake(
    emulated: dict[str, Step],
) -> None:
    real, emu = REAL[HELD_STEP], emulated[HELD_STEP]
    assert real["held_pending_after_3s"] == emu["held_pending"] == 2
    for side in (real["held"], emu["held"]):
        assert sorted((h["stream"], h["status"], h["sse_done"]) for h in side) == [
            (False, 200, False),
            (True, 200, True),
        ]


def test_reload_weights_of_a_dummy_model_is_refused_with_vllms_json_500(
    emulated: dict[str, Step],
) -> None:
    error = emulated["reload_weights"]["json"]["error"]
    assert error == REAL["reload_weights"]["json"]["error"]
    assert "dummy" in error["message"]


def test_the_connection_is_closed_after_the_500_as_uvicorn_does(
    emulated: dict[str, Step],
) -> None:
    """The next call on the pooled connection arrives from a new client port."""
    for side in (REAL, emulated):
        before = client_port(side["reload_weights"]["log_lines"])
        after = client_port(side["after_500_same_connection"]["log_lines"])
        assert before is not None
        assert after is not None
        assert after != before
        assert side["after_500_same_connection"]["status"] == 200
        assert any(
            "Exception in ASGI application" in line for line in side["reload_weights"]["log_lines"]
        )


@pytest.mark.parametrize("name", WITH_EVENTS)
def test_log_lines_parse_to_the_same_events(emulated: dict[str, Step], name: str) -> None:
    assert events(emulated[name]["log_lines"]) == events(REAL[name]["log_lines"])


@pytest.mark.parametrize("name", list(REAL))
def test_log_lines_have_the_real_format_and_site(emulated: dict[str, Step], name: str) -> None:
    assert known_templates(emulated[name]["log_lines"]) == known_templates(REAL[name]["log_lines"])


@pytest.mark.parametrize("name", WITH_EVENTS)
@pytest.mark.parametrize("figure", ["backed_up_gib", "discarded_gib", "still_in_use_gib"])
def test_memory_figures_are_within_5_percent_of_the_real_engines(
    emulated: dict[str, Step], name: str, figure: str
) -> None:
    real = figures(REAL[name]["log_lines"], figure)
    emu = figures(emulated[name]["log_lines"], figure)
    assert len(emu) == len(real)
    for mine, theirs in zip(emu, real, strict=True):
        assert mine == pytest.approx(theirs, rel=0.05, abs=0.05)
