"""Words the pages show for the console's codes: one mapping for templates and JS.

Pages print ``state_label`` and ``gpus_text``; ``STATE_LABELS`` also reaches the pages'
scripts as JSON (``state-labels``, in partials/instance_table.html) so that a live update
says the same words as the first render.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.models import InstanceState

S = InstanceState
STATE_LABELS: dict[str, str] = {
    S.STOPPED: "stopped",
    S.STARTING: "starting",
    S.AWAKE: "awake",
    S.FALLING_ASLEEP: "falling asleep",
    S.SLEEPING: "sleeping",
    S.WAKING: "waking",
    S.STOPPING: "stopping",
    S.ERROR: "error",
    S.UNKNOWN: "unknown",
}


def state_label(state: str, sleep_level: int | None = None) -> str:
    """``sleeping · L1``: the state in words, with the sleep level when there is one."""
    label = STATE_LABELS.get(state, state)
    return f"{label} · L{sleep_level}" if sleep_level else label


def gpus_text(indexes: Sequence[int]) -> str:
    """``GPU 0``, ``GPUs 0, 1``: a bare "0" under "GPUs" read as "no GPUs"."""
    if not indexes:
        return "—"
    noun = "GPU" if len(indexes) == 1 else "GPUs"
    return f"{noun} {', '.join(str(index) for index in indexes)}"
