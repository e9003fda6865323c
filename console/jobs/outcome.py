"""What a job found out: the figures recorded on its row when it ends, and after."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from console.models import Instance


@dataclass
class JobOutcome:
    """Engine-reported and console-measured figures; None where nothing was learned.

    The engine calls' steps are recorded as they run; their figures (the engine's own
    seconds and GiB, memory before and after, the first request's latency) are filled in by
    ``evidence.attach`` after the job has ended.
    """

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
        if self.has_evidence_to_gather:
            values["outcome_detail"]["evidence"] = "pending"
        return values

    def add_step(self, step: str, instance: str, **figures: Any) -> None:
        self.steps.append({"step": step, "instance": instance, **figures})

    def add_call_step(
        self,
        step: str,
        instance: Instance,
        started_at: datetime,
        call_seconds: float,
        **figures: Any,
    ) -> None:
        """A sleep or wake call that returned now: what ``evidence.attach`` needs to find
        its log lines and samples (the instance, when the call started and ended)."""
        self.add_step(
            step, instance.name, instance_id=instance.pk, call_seconds=call_seconds,
            started_at=started_at.isoformat(), call_ended_at=timezone.now().isoformat(),
            **figures,
        )  # fmt: skip

    @property
    def has_evidence_to_gather(self) -> bool:
        return any("call_ended_at" in step for step in self.steps)
