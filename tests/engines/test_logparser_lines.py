"""One log line in, one event (or none) out: every record format and message in
docs/vllm-behaviour.md §5."""

from __future__ import annotations

import pytest

from engines.logparser import EventKind, parse_line
from engines.logparser.patterns import MAX_LINE_CHARS

TS = "2026-03-14T09:20:14"
REC = "INFO 03-14 09:20:14 [gpu_worker.py:117] "
SLEEP_FREED = "Sleep mode freed 66.62 GiB memory, 1.37 GiB memory is still in use."
FREED = {"event": "sleep_freed", "freed_gib": 66.62, "still_in_use_gib": 1.37}
CYAN, RESET = "\x1b[1;36m", "\x1b[0;0m"


def parsed(line: str) -> dict[str, object] | None:
    event = parse_line(line, year=2026)
    return None if event is None else event.to_json_dict()


# Where the record sits in the line: version formats, process prefixes, foreign prefixes.
RECORD_FORMATS = [
    pytest.param(
        f"INFO 03-14 09:20:14 worker.py:133] {SLEEP_FREED}",
        {**FREED, "timestamp": TS},
        id="0.7.x-no-opening-bracket",
    ),
    pytest.param(f"{REC}{SLEEP_FREED}", {**FREED, "timestamp": TS}, id="0.8-no-prefix"),
    pytest.param(
        f"(VllmWorker rank=1 pid=731) {REC}{SLEEP_FREED}",
        {**FREED, "process": "VllmWorker rank=1", "pid": 731, "timestamp": TS},
        id="0.8-vllmworker-rank",
    ),
    pytest.param(
        f"(EngineCore_0 pid=5) {REC}{SLEEP_FREED}",
        {**FREED, "process": "EngineCore_0", "pid": 5, "timestamp": TS},
        id="0.10.1-enginecore-0",
    ),
    pytest.param(
        f"{CYAN}(Worker pid=245){RESET} {REC}{SLEEP_FREED}",
        {**FREED, "process": "Worker", "pid": 245, "timestamp": TS},
        id="0.11-coloured-prefix",
    ),
    pytest.param(
        f"(Worker_DP0_TP1 pid=9) [gpu-a] {REC}{SLEEP_FREED}",
        {**FREED, "process": "Worker_DP0_TP1", "pid": 9, "timestamp": TS},
        id="0.10.2-prefix-before-logging-prefix",
    ),
    pytest.param(
        f"[gpu-a](EngineCore pid=88) {REC}{SLEEP_FREED}",
        {**FREED, "process": "EngineCore", "pid": 88, "timestamp": TS},
        id="0.31-prefix-inside-record",
    ),
    pytest.param(
        f"(VllmWorkerProcess pid=12) INFO 03-14 09:20:14 [v1/worker/gpu_worker.py:117] "
        f"{SLEEP_FREED}",
        {**FREED, "process": "VllmWorkerProcess", "pid": 12, "timestamp": TS},
        id="debug-relative-path",
    ),
    pytest.param(
        "(ApiServer_1 pid=3) INFO 03-14 09:20:14 [entrypoints/.../sleep/api_router.py:38] "
        "It took 0.5 seconds to fall asleep.",
        {"event": "sleep", "seconds": 0.5, "process": "ApiServer_1", "pid": 3, "timestamp": TS},
        id="debug-collapsed-path",
    ),
    pytest.param(
        f"\x1b[1;36m(Worker_TP0 pid=77)\x1b[0;0m \x1b[32mINFO\x1b[0m \x1b[2m03-14 09:20:14\x1b[0m "
        f"\x1b[2m[gpu_worker.py:117]\x1b[0m {SLEEP_FREED}",
        {**FREED, "process": "Worker_TP0", "pid": 77, "timestamp": TS},
        id="0.12-coloured-level-and-time",
    ),
    pytest.param(
        f'<font color="#06989A"><b>(Worker pid=245)</b></font> {REC}{SLEEP_FREED}',
        {**FREED, "process": "Worker", "pid": 245, "timestamp": TS},
        id="html-copied-terminal",
    ),
    pytest.param(
        f"vllm-1  | (Worker pid=245) {REC}{SLEEP_FREED}",
        {**FREED, "process": "Worker", "pid": 245, "timestamp": TS},
        id="docker-compose-prefix",
    ),
    pytest.param(
        f"2026-03-14T09:20:14.0031234Z (Worker pid=245) {REC}{SLEEP_FREED}",
        {**FREED, "process": "Worker", "pid": 245, "timestamp": TS},
        id="ci-timestamp-prefix",
    ),
    pytest.param(
        f"Mar 14 09:20:14 gpu01 vllm[4411]: {REC}{SLEEP_FREED}",
        {**FREED, "timestamp": TS},
        id="systemd-journal-prefix",
    ),
    pytest.param(f"> {REC}{SLEEP_FREED}", {**FREED, "timestamp": TS}, id="markdown-quote"),
    pytest.param(
        f"(RayWorkerWrapper pid=4242) {REC}{SLEEP_FREED}",
        {**FREED, "process": "RayWorkerWrapper", "pid": 4242, "timestamp": TS},
        id="ray-actor-prefix",
    ),
    pytest.param(
        f"(Worker pid=245) {REC}{SLEEP_FREED}\r\n",
        {**FREED, "process": "Worker", "pid": 245, "timestamp": TS},
        id="crlf-ending",
    ),
    pytest.param(
        f"(Worker pid=1) INFO 03-14 09:20:1(Worker pid=2) {REC}{SLEEP_FREED}",
        {**FREED, "process": "Worker", "pid": 2, "timestamp": TS},
        id="cut-line-followed-by-another-writer",
    ),
    pytest.param(
        "(Worker pid=245) RuntimeError: CUDA Error: out of memory at /ws/cumem_allocator.cpp:62",
        {"event": "wake_oom", "process": "Worker", "pid": 245},
        id="traceback-line-without-record",
    ),
    pytest.param(
        "INFO 13-45 09:20:14 [gpu_worker.py:117] " + SLEEP_FREED,
        FREED,
        id="impossible-date-gives-no-timestamp",
    ),
]


@pytest.mark.parametrize(("line", "expected"), RECORD_FORMATS)
def test_record_formats_give_figures_process_and_time(
    line: str, expected: dict[str, object]
) -> None:
    assert parsed(line) == expected


# Each message in its version's spelling (docs/vllm-behaviour.md §5.3-5.5), under a plain 0.8
# record.
MESSAGES = [
    pytest.param(
        "It took 9.127604 seconds to fall asleep.",
        {"event": "sleep", "seconds": 9.127604},
        id="sleep",
    ),
    pytest.param(
        "It took 0.318772 seconds to wake up tags {'weights', 'kv_cache'}.",
        {"event": "wake", "seconds": 0.318772, "tags": ["kv_cache", "weights"]},
        id="wake-set-weights-first",
    ),
    pytest.param(
        "It took 0.318772 seconds to wake up tags {'kv_cache', 'weights'}.",
        {"event": "wake", "seconds": 0.318772, "tags": ["kv_cache", "weights"]},
        id="wake-set-kv-cache-first",
    ),
    pytest.param(
        "It took 0.091233 seconds to wake up tags ['weights'].",
        {"event": "wake", "seconds": 0.091233, "tags": ["weights"]},
        id="wake-list",
    ),
    pytest.param(
        "It took 0.091233 seconds to wake up tags None.",
        {"event": "wake", "seconds": 0.091233, "tags": None},
        id="wake-tags-none",
    ),
    pytest.param(
        "It took 0.934512 seconds to wake up.",
        {"event": "wake", "seconds": 0.934512, "tags": None},
        id="wake-0.7.3-without-tags",
    ),
    pytest.param(
        "It took 0.01 seconds to wake up tags [].",
        {"event": "wake", "seconds": 0.01, "tags": []},
        id="wake-empty-list",
    ),
    pytest.param(
        "CuMemAllocator: sleep freed 66.41 GiB memory in total, of which 14.96 GiB is backed up "
        "in CPU and the rest 51.45 GiB is discarded directly.",
        {
            "event": "cumem_freed",
            "freed_gib": 66.41,
            "backed_up_gib": 14.96,
            "discarded_gib": 51.45,
        },
        id="cumem-0.11",
    ),
    pytest.param(SLEEP_FREED, FREED, id="sleep-freed-two-decimals"),
    pytest.param(
        "Sleep mode freed 5.8 GiB memory, 0.0 GiB memory is still in use.",
        {"event": "sleep_freed", "freed_gib": 5.8, "still_in_use_gib": 0.0},
        id="sleep-freed-0.14-rounded",
    ),
    pytest.param(
        "Sleep mode freed 0.00 GiB memory, 71.20 GiB memory is still in use.",
        {"event": "sleep_freed", "freed_gib": 0.0, "still_in_use_gib": 71.2},
        id="sleep-freed-nothing-expandable-segments",
    ),
    pytest.param(
        "Model loading took 14.9888 GB and 5.123401 seconds",
        {"event": "model_loaded", "gib": 14.9888, "seconds": 5.123401},
        id="model-loaded-0.8-gb",
    ),
    pytest.param(
        "Model loading took 15.2683 GiB and 3.120512 seconds",
        {"event": "model_loaded", "gib": 15.2683, "seconds": 3.120512},
        id="model-loaded-0.11.0",
    ),
    pytest.param(
        "Model loading took 15.2683 GiB memory and 3.120512 seconds",
        {"event": "model_loaded", "gib": 15.2683, "seconds": 3.120512},
        id="model-loaded-0.11.1",
    ),
    pytest.param(
        "Model loading took 15.27 GiB memory and 3.120512 seconds",
        {"event": "model_loaded", "gib": 15.27, "seconds": 3.120512},
        id="model-loaded-0.14-rounded",
    ),
    pytest.param(
        "Loading model weights took 14.9888 GB",
        {"event": "model_loaded", "gib": 14.9888, "seconds": None},
        id="model-loaded-0.7-size-only",
    ),
    pytest.param(
        "GPU KV cache size: 512,480 tokens", {"event": "kv_cache", "tokens": 512480}, id="kv-cache"
    ),
    pytest.param(
        "GPU KV cache size: 992 tokens", {"event": "kv_cache", "tokens": 992}, id="kv-small"
    ),
    pytest.param(
        "GPU KV cache size: 1,032,640 tokens, Maximum concurrency for 8,192 tokens per request: "
        "126.05x",
        {"event": "kv_cache", "tokens": 1032640},
        id="kv-cache-0.28-one-line",
    ),
    pytest.param(
        "CPU KV cache size: 65,536 tokens, Maximum concurrency for 8,192 tokens per request: 8.00x",
        {"event": "kv_cache", "tokens": 65536},
        id="kv-cache-0.30-pool-name",
    ),
    pytest.param(
        "Starting vLLM API server on http://0.0.0.0:8000",
        {"event": "server_started", "url": "http://0.0.0.0:8000"},
        id="server-0.7.3",
    ),
    pytest.param(
        "Starting vLLM API server on https://10.1.2.3:8443",
        {"event": "server_started", "url": "https://10.1.2.3:8443"},
        id="server-0.8-https",
    ),
    pytest.param(
        "Starting vLLM API server 0 on http://0.0.0.0:8000",
        {"event": "server_started", "url": "http://0.0.0.0:8000"},
        id="server-0.11-numbered",
    ),
    pytest.param(
        "Starting vLLM server on http://[::]:8000",
        {"event": "server_started", "url": "http://[::]:8000"},
        id="server-0.18",
    ),
    pytest.param(
        "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack "
        "trace (above) for the root cause.",
        {"event": "engine_dead"},
        id="engine-dead-0.11",
    ),
    pytest.param(
        "vllm.v1.engine.exceptions.EngineDeadError: The server had an error while processing "
        "your request.",
        {"event": "engine_dead"},
        id="engine-dead-0.33",
    ),
    pytest.param(
        "MQLLMEngine is already dead, terminating server process",
        {"event": "engine_dead"},
        id="engine-dead-v0-launcher",
    ),
    pytest.param(
        "RuntimeError: Engine loop has died", {"event": "engine_dead"}, id="engine-dead-v0-client"
    ),
    pytest.param(
        "RuntimeError: CUDA Error: out of memory at /workspace/csrc/cumem_allocator.cpp:163",
        {"event": "wake_oom"},
        id="wake-oom",
    ),
    pytest.param(
        "CUDA Error: out of memory at /tmp/vllm/csrc/cumem_allocator.cpp:56",
        {"event": "wake_oom"},
        id="wake-oom-before-12981",
    ),
    pytest.param(
        "Reloading and processing weights took 2.09 seconds",
        {"event": "reload", "seconds": 2.09},
        id="reload-0.25",
    ),
]


@pytest.mark.parametrize(("message", "expected"), MESSAGES)
def test_messages_give_their_figures(message: str, expected: dict[str, object]) -> None:
    assert parsed(f"{REC}{message}") == {**expected, "timestamp": TS}


NOT_EVENTS = [
    pytest.param("check whether the engine is sleeping", id="is-sleeping-poll"),
    pytest.param("wake up the engine with tags: None", id="api-wake"),
    pytest.param("sleep the engine with level 1", id="api-sleep-0.7.3"),
    pytest.param("Successfully reset prefix cache", id="prefix-reset"),
    pytest.param("It took 0.101000 seconds to discard tags ['kv_cache'].", id="discard-0.31"),
    pytest.param("CuMemAllocator: discarded 50.90 GiB for tags ['kv_cache'].", id="cumem-discard"),
    pytest.param("Loading weights took 3.92 seconds", id="weights-reload"),
    pytest.param("Available KV cache memory: 51.45 GiB", id="kv-memory"),
    pytest.param("Maximum concurrency for 40,960 tokens per request: 9.15x", id="concurrency"),
    pytest.param(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", id="torch-oom"
    ),
    pytest.param("CUDA error: an illegal memory access was encountered", id="illegal-access"),
    pytest.param("    raise EngineDeadError()", id="traceback-source-line"),
    pytest.param("It took 0.318772 seconds to wake up tags {'weights', 'kv", id="cut-off"),
    pytest.param("Sleep mode freed 66.62 GiB memory, 1.3", id="cut-off-figures"),
    pytest.param("Executor is already sleeping.", id="already-asleep"),
]


@pytest.mark.parametrize("message", NOT_EVENTS)
def test_other_messages_are_not_events(message: str) -> None:
    assert parse_line(f"(APIServer pid=9) {REC}{message}") is None


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("", id="empty"),
        pytest.param("(EngineCore_DP0 pid=212) ", id="bare-prefix-after-tqdm"),
        pytest.param(
            'INFO:     127.0.0.1:41872 - "POST /sleep?level=1 HTTP/1.1" 200 OK', id="access"
        ),
        pytest.param("INFO:     Application startup complete.", id="uvicorn"),
        pytest.param("\x00\xff\ufffd" * 50, id="binary"),
    ],
)
def test_lines_without_a_message_are_not_events(line: str) -> None:
    assert parse_line(line) is None


def test_event_keeps_the_raw_line_with_its_colour_codes() -> None:
    line = f"{CYAN}(Worker pid=245){RESET} {REC}{SLEEP_FREED}"
    event = parse_line(line + "\n")
    assert event is not None
    assert event.line == line


def test_event_kind_is_the_enum_member() -> None:
    event = parse_line(f"{REC}It took 1.0 seconds to fall asleep.")
    assert event is not None
    assert event.event is EventKind.SLEEP


def test_year_argument_sets_the_timestamp_year() -> None:
    event = parse_line(f"{REC}{SLEEP_FREED}", year=2019)
    assert event is not None
    assert event.timestamp is not None
    assert event.timestamp.isoformat() == "2019-03-14T09:20:14"


def test_line_longer_than_the_cap_is_read_up_to_the_cap() -> None:
    padding = "x" * MAX_LINE_CHARS
    assert parse_line(f"{REC}{SLEEP_FREED} {padding}") is not None
    assert parse_line(f"{padding}{REC}{SLEEP_FREED}") is None


def test_figure_with_absurd_digit_count_is_not_an_event() -> None:
    assert parse_line(f"{REC}GPU KV cache size: {'1' * 5000} tokens") is None
