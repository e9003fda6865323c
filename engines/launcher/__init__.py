"""Launch vLLM (or the emulator) as detached processes, wait until ready, stop them."""

from engines.launcher.errors import (
    EngineAlreadyRunningError,
    EngineDiedError,
    EngineStartTimeout,
    LaunchError,
)
from engines.launcher.launcher import LaunchedEngine, Launcher
from engines.launcher.readiness import Readiness
from engines.launcher.spec import LaunchSpec, build_command, build_env, redact_command

__all__ = [
    "EngineAlreadyRunningError",
    "EngineDiedError",
    "EngineStartTimeout",
    "LaunchError",
    "LaunchSpec",
    "LaunchedEngine",
    "Launcher",
    "Readiness",
    "build_command",
    "build_env",
    "redact_command",
]
