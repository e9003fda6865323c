"""The instance page's "Evidence" section: which figures the console can gather
for this engine, and why not when it cannot.

An engine the console launched is followed by its host's agent from the start; one adopted
by URL only as far as that agent can see it: its processes (found by the port it listens
on) and its log file (when a path is given). The agent reports what it found every tick
(``console.agent.adopted``); the report expires within seconds, so a silent agent reads as
"unknown", never as a stale "yes".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from console.agent.adopted import read_status
from console.models import Instance

NO_LOG = (
    "no log path given: jobs get the console's own HTTP timing and the GPU samples, not the "
    "engine's seconds from its log lines (an admin can set the log path)"
)


@dataclass(frozen=True)
class EvidenceLine:
    """One kind of evidence: available or not, and why."""

    label: str
    available: bool
    why: str


def evidence_lines(instance: Instance) -> list[EvidenceLine]:
    silent = agent_silence(instance)
    report = None if silent else read_status(instance.pk)
    if silent is None and report is None:
        silent = f"host {instance.host}'s agent has not reported on this instance yet"
    return [_log_line(instance, report, silent), _gpu_line(report, silent)]


def agent_silence(instance: Instance) -> str | None:
    """Why no agent can report on this instance, or None when its host's agent is up."""
    host = instance.host
    if host is None:
        return "no host set: only the agent on the engine's own host can see its processes"
    if not host.is_online(timezone.now()):
        return f"host {host.name}'s agent is offline"
    return None


def _reported(report: dict[str, object] | None, key: str) -> tuple[bool, str] | None:
    value = (report or {}).get(key)
    if isinstance(value, list) and len(value) == 2:
        return bool(value[0]), str(value[1])
    return None


def _log_line(
    instance: Instance, report: dict[str, object] | None, silent: str | None
) -> EvidenceLine:
    label = "Log followed"
    if not instance.log_path:
        return EvidenceLine(label, False, NO_LOG)
    found = _reported(report, "log")
    if found is None:
        return EvidenceLine(label, False, silent or "unknown")
    return EvidenceLine(label, *found)


def _gpu_line(report: dict[str, object] | None, silent: str | None) -> EvidenceLine:
    label = "GPU memory attributed"
    found = _reported(report, "gpu")
    if found is None:
        return EvidenceLine(label, False, silent or "unknown")
    return EvidenceLine(label, *found)
