"""What a job found out: the figures recorded on its row when it ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class JobOutcome:
    """Engine-reported and console-measured figures; None where nothing was learned."""

    engine_seconds: float | None = None
    freed_gib: float | None = None
    backed_up_gib: float | None = None
    still_in_use_gib: float | None = None
    gpu_used_before_bytes: int | None = None
    gpu_used_after_bytes: int | None = None
    first_request_seconds: float | None = None
    log_excerpt: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """The Job columns to update (everything but the steps, which go to outcome_detail)."""
        values = asdict(self)
        steps = values.pop("steps")
        values["outcome_detail"] = {"steps": steps} if steps else {}
        return values

    def add_step(self, step: str, instance: str, **figures: Any) -> None:
        self.steps.append({"step": step, "instance": instance, **figures})
