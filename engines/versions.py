"""What each vLLM release does with sleep mode, as one table of feature flags.

The client, the emulator and the log parser all choose behaviour from here, so a fact
about a version is written once. Every flag is a row of docs/vllm-behaviour.md §1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


class AsleepRequestBehaviour(StrEnum):
    """What a generation request does when it reaches a sleeping engine
    (docs/vllm-behaviour.md §4)."""

    CRASH = "crash"  # <=0.16: illegal memory access, EngineDeadError, server exits
    HANG = "hang"  # 0.17-0.30: queued; a weights-only wake resumes scheduling (and crashes)
    QUEUE = "queue"  # 0.31+: queued until every tag is awake


class LogFormat(StrEnum):
    """The record layout of vLLM's logger (docs/vllm-behaviour.md §5.1)."""

    V07 = "0.7"  # "INFO 03-02 10:04:51 worker.py:133] msg" (no opening bracket)
    V08 = "0.8"  # "INFO 03-02 10:04:51 [worker.py:133] msg"
    V010 = "0.10"  # prefix printed by stdout patching, before VLLM_LOGGING_PREFIX
    V031 = "0.31"  # prefix is part of the record; uvicorn lines carry none


@total_ordering
@dataclass(frozen=True)
class VllmVersion:
    """A release number; only major.minor.patch matter for behaviour."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> VllmVersion:
        """Parse "0.11.0", "v0.8.5", "0.11.1rc7" or "0.10.2.dev3+g1234"; raise ValueError else."""
        match = _VERSION_RE.match(text.strip())
        if match is None:
            raise ValueError(f"not a vLLM version: {text!r}")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, VllmVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def v(text: str) -> VllmVersion:
    """Short form for tables and comparisons: ``v("0.17")``."""
    return VllmVersion.parse(text)


OLDEST_SUPPORTED = v("0.7.3")
NEWEST_KNOWN = v("0.33.0")


@dataclass(frozen=True)
class Features:
    """Sleep-mode features of one vLLM version."""

    version: VllmVersion

    @property
    def has_sleep_endpoints(self) -> bool:
        return self.version >= v("0.7.3")

    @property
    def has_is_sleeping(self) -> bool:
        return self.version >= v("0.8.0")

    @property
    def has_reset_prefix_cache(self) -> bool:
        # vLLM's route table dates POST /reset_prefix_cache "0.8.x+" with no patch; its 0.8-0.11
        # ``device`` parameter and log line (docs/vllm-behaviour.md §2.6) start at 0.8.0.
        return self.version >= v("0.8.0")

    @property
    def has_wake_tags(self) -> bool:
        # vLLM #15500: absent in 0.8.0, present in 0.8.5.
        return self.version >= v("0.8.5")

    @property
    def has_collective_rpc(self) -> bool:
        return self.version >= v("0.10.2")

    @property
    def has_reload_weights(self) -> bool:
        return self.version >= v("0.10.0")

    @property
    def has_cumem_log(self) -> bool:
        return self.version >= v("0.11.0")

    @property
    def has_sleep_state_metric(self) -> bool:
        return self.version >= v("0.11.1")

    @property
    def has_pause_endpoints(self) -> bool:
        return self.version >= v("0.12.0")

    @property
    def pause_needs_dev_mode(self) -> bool:
        return self.version >= v("0.16.0")

    @property
    def has_sleep_level_zero(self) -> bool:
        """0.17+: level 0 pauses scheduling only; ``mode`` query parameter."""
        return self.version >= v("0.17.0")

    @property
    def logs_is_sleeping_calls(self) -> bool:
        """0.8.0-0.17.x log "check whether the engine is sleeping" on every poll."""
        return v("0.8.0") <= self.version < v("0.18.0")

    @property
    def has_release_kv_cache(self) -> bool:
        return self.version >= v("0.31.0")

    @property
    def json_bodies(self) -> bool:
        """0.32+: /sleep and /wake_up answer JSON; /sleep validates level (HTTP 400)."""
        return self.version >= v("0.32.0")

    @property
    def reset_prefix_cache_json(self) -> bool:
        return self.version >= v("0.26.0")

    @property
    def rounds_sleep_freed(self) -> bool:
        """0.14+: "Sleep mode freed %s GiB" prints round(x, 2), e.g. 5.8 not 5.80."""
        return self.version >= v("0.14.0")

    @property
    def asleep_request(self) -> AsleepRequestBehaviour:
        if self.version < v("0.17.0"):
            return AsleepRequestBehaviour.CRASH
        if self.version < v("0.31.0"):
            return AsleepRequestBehaviour.HANG
        return AsleepRequestBehaviour.QUEUE

    @property
    def log_format(self) -> LogFormat:
        if self.version < v("0.8.0"):
            return LogFormat.V07
        if self.version < v("0.10.2"):
            return LogFormat.V08
        if self.version < v("0.31.0"):
            return LogFormat.V010
        return LogFormat.V031


def features(version: str | VllmVersion) -> Features:
    """Features of ``version`` (a string such as "0.11.0", or a parsed version)."""
    parsed = version if isinstance(version, VllmVersion) else VllmVersion.parse(version)
    return Features(parsed)
