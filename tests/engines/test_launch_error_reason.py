"""A failed launch says why in one line: its summary and the log lines that name the error."""

from __future__ import annotations

from engines.launcher import EngineDiedError, EngineStartTimeout

# vLLM 0.10+ ends a failed start with a summary that points back at the root cause.
OOM_TAIL = [
    "(EngineCore_0 pid=7) ERROR 12-03 09:00:01 [core.py:700] EngineCore failed to start.",
    "Traceback (most recent call last):",
    '  File "vllm/v1/worker/gpu_worker.py"',
    "ValueError: Free memory on device (23.1/79.2 GiB) on startup is less than desired GPU "
    "memory utilization (0.9, 71.3 GiB).",
    "RuntimeError: Engine core initialization failed. See root cause above. Failed core "
    "proc(s): {}",
    "",
]


def test_the_reason_keeps_the_root_cause_before_vllms_summary() -> None:
    reason = EngineDiedError(OOM_TAIL, exit_code=1).reason
    assert reason.startswith("engine exited during startup (exit code 1): ")
    assert "ValueError: Free memory on device (23.1/79.2 GiB)" in reason
    assert "Traceback" not in reason
    assert "\n" not in reason


def test_a_usage_error_is_the_reason() -> None:
    tail = ["usage: vllm serve [-h] ...", "vllm serve: error: unrecognized arguments: --bad"]
    assert EngineDiedError(tail, exit_code=2).reason == (
        "engine exited during startup (exit code 2): "
        "vllm serve: error: unrecognized arguments: --bad"
    )


def test_without_an_error_line_the_last_lines_are_the_reason() -> None:
    tail = ["INFO loading weights", "INFO compiling", "INFO capturing CUDA graphs"]
    assert EngineStartTimeout(tail, timeout=60).reason == (
        "engine not ready after 60 s: INFO loading weights | INFO compiling | "
        "INFO capturing CUDA graphs"
    )


def test_an_empty_log_is_said() -> None:
    assert EngineDiedError([], exit_code=1).reason == (
        "engine exited during startup (exit code 1) (empty log)"
    )


def test_the_reason_never_carries_a_secret_argument() -> None:
    tail = ["vllm serve: error: argument --api-key: expected one argument --api-key sk-abc123"]
    reason = EngineDiedError(tail, exit_code=2).reason
    assert "sk-abc123" not in reason
    assert "error: argument --api-key" in reason
