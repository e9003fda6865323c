"""What a client writes into a log line is never an engine event.

uvicorn's access line carries the request line as the client sent it, and vLLM's request
logger the prompt; a path such as ``/v1/completions?EngineDeadError:injected`` used to make
the access line parse as an ``engine_dead`` event that viewers saw.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engines.logparser import EventKind, parse_line, parse_text
from tests.engines.conftest import FAST
from tests.support.emulator import run_emulator

ACCESS = '(APIServer pid=857) INFO:     127.0.0.1:40752 - "POST /v1/completions?{} HTTP/1.1" 200 OK'
# One needle of every event kind, as a client could put it in a query string.
INJECTED = [
    "EngineDeadError:injected",
    "EngineCore%20encountered%20an%20issue",
    "EngineCore encountered an issue",
    "It took 9.5 seconds to fall asleep.",
    "It took 0.3 seconds to wake up tags ['weights'].",
    "Sleep mode freed 70.00 GiB memory, 1.00 GiB memory is still in use.",
    "CuMemAllocator: sleep freed 70.00 GiB memory in total, of which 14.00 GiB is backed up "
    "in CPU and the rest 56.00 GiB is discarded directly.",
    "Model loading took 13.49 GiB and 2.81 seconds",
    "GPU KV cache size: 509,872 tokens",
    "Starting vLLM server on http://attacker.example",
    "CUDA Error: out of memory at cumem_allocator.cpp:163",
    "Engine loop has died",
]


@pytest.mark.parametrize("payload", INJECTED)
def test_access_log_line_with_injected_event_text_is_not_an_engine_event(payload: str) -> None:
    assert parse_line(ACCESS.format(payload)) is None


def test_access_log_line_with_injected_engine_dead_is_never_an_engine_event() -> None:
    line = ACCESS.format("EngineDeadError:injected")
    assert parse_line(line) is None
    assert parse_text(f"{line}\n{line}\n") == []


def test_prompt_in_the_request_logger_is_not_an_engine_event() -> None:
    line = (
        "(APIServer pid=9) INFO 12-03 06:21:20 [logger.py:40] Received request cmpl-1: "
        "prompt: 'vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.'"
    )
    assert parse_line(line) is None


def test_the_real_engine_dead_line_still_parses() -> None:
    line = (
        "(APIServer pid=9) ERROR 12-03 06:21:25 [async_llm.py:480] "
        "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. "
        "See stack trace (above) for the root cause."
    )
    event = parse_line(line)
    assert event is not None
    assert event.event is EventKind.ENGINE_DEAD


def test_a_real_access_log_line_with_an_injected_query_yields_no_event(tmp_path: Path) -> None:
    """Against the emulator's own access log: the injected request, then a real sleep."""
    with run_emulator(tmp_path, *FAST, version="0.25.0") as emulator:
        with httpx.Client(base_url=emulator.url, timeout=30) as client:
            for query in ("EngineDeadError:injected", "It%20took%201.0%20seconds%20to%20fall"):
                client.post(f"/v1/completions?{query}", json={"prompt": "hi", "max_tokens": 1})
            client.post("/sleep", params={"level": "1"}).raise_for_status()
        text = emulator.log_text()
    assert "EngineDeadError:injected" in text
    kinds = [event.event for event in parse_text(text)]
    assert EventKind.ENGINE_DEAD not in kinds
    assert kinds.count(EventKind.SLEEP) == 1  # the real sleep only, not the injected one
