"""Why a launch failed, with the end of the engine's own log to show the operator."""

from __future__ import annotations

import re

from engines.launcher.logfiles import redact_secrets

# A line that says what went wrong: "ValueError: Free memory on device ...", vLLM's
# "ERROR ... EngineCore failed to start.", argparse's "serve: error: unrecognized ...".
ERROR_LINE = re.compile(r"\b\w*(Error|Exception)\b:|\bERROR\b|\berror:", re.IGNORECASE)
REASON_LINES = 3


class LaunchError(Exception):
    """A launched engine did not become ready; ``last_lines`` ends its log."""

    def __init__(self, summary: str, last_lines: list[str]) -> None:
        self.summary = summary
        self.last_lines = last_lines
        tail = "\n".join(last_lines) if last_lines else "(the log is empty)"
        super().__init__(f"{summary}; last log lines:\n{tail}")

    @property
    def reason(self) -> str:
        """The summary and the log's last lines that say why, on one line: vLLM ends a
        failed start with "See root cause above" (0.10+), so the error lines before it count."""
        # Viewers read it: vLLM prints its non-default args, an --api-key among them.
        lines = [redact_secrets(line.strip()) for line in self.last_lines if line.strip()]
        errors = [line for line in lines if ERROR_LINE.search(line)]
        why = (errors or lines)[-REASON_LINES:]
        return f"{self.summary}: {' | '.join(why)}" if why else f"{self.summary} (empty log)"


class EngineDiedError(LaunchError):
    """The process exited before answering ``/health`` (``exit_code`` None if not our child)."""

    def __init__(self, last_lines: list[str], exit_code: int | None = None) -> None:
        self.exit_code = exit_code
        code = "unknown" if exit_code is None else str(exit_code)
        super().__init__(f"engine exited during startup (exit code {code})", last_lines)


class EngineStartTimeout(LaunchError):
    """The process was still alive but not ready after ``timeout`` seconds."""

    def __init__(self, last_lines: list[str], timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"engine not ready after {timeout:g} s", last_lines)


class EngineAlreadyRunningError(RuntimeError):
    """An instance of that name is already running; stop it first."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        super().__init__(f"instance {name!r} is already running as pid {pid}")
