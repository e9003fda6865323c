"""The job detail page: what was asked, by whom, how it went, each engine call's figures,
whether its evidence is in, and the engine events logged around it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.views.generic import DetailView

from console.models import EngineEvent, Instance, Job
from console.realtime.payloads import job_update
from console.roles import Action
from console.web.event_rows import EventRow
from console.web.views import ConsolePageMixin

if TYPE_CHECKING:
    JobDetailBase = DetailView[Job]
else:  # Django's generic views are not subscriptable at run time (django-stubs' are).
    JobDetailBase = DetailView

GIB = 1 << 30
# Engine events shown before the job started (its engine may log the call's start late).
EVENTS_BEFORE = timedelta(seconds=2)
MAX_EVENTS = 200
EVIDENCE_STATES = {
    "pending": "pending: the engine's log lines and GPU samples are being gathered",
    "complete": "complete: the figures below are all the console could gather",
}
NO_EVIDENCE = "none to gather: this job made no sleep or wake call"


@dataclass(frozen=True)
class StepRow:
    """One step of a job (an engine call, a launch, a stop) with the figures it carries."""

    step: str
    instance: str
    instance_id: int | None
    detail: str
    call_seconds: float | None
    engine_seconds: float | None
    reload_seconds: float | None
    freed_gib: float | None
    backed_up_gib: float | None
    still_in_use_gib: float | None
    gpu_before_gib: float | None
    gpu_after_gib: float | None
    first_request_seconds: float | None

    @classmethod
    def of(cls, step: dict[str, Any]) -> StepRow:
        return cls(
            step=str(step.get("step", "")),
            instance=str(step.get("instance", "")),
            instance_id=_int(step.get("instance_id")),
            detail=step_detail(step),
            call_seconds=_number(step.get("call_seconds")),
            engine_seconds=_number(step.get("engine_seconds")),
            reload_seconds=_number(step.get("reload_seconds")),
            freed_gib=_number(step.get("freed_gib")),
            backed_up_gib=_number(step.get("backed_up_gib")),
            still_in_use_gib=_number(step.get("still_in_use_gib")),
            gpu_before_gib=_gib(step.get("gpu_used_before_bytes")),
            gpu_after_gib=_gib(step.get("gpu_used_after_bytes")),
            first_request_seconds=_number(step.get("first_request_seconds")),
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _gib(value: Any) -> float | None:
    number = _number(value)
    return number / GIB if number is not None else None


def step_detail(step: dict[str, Any]) -> str:
    """A step's parameters in words: its level, the level it woke from, its tags, its exit."""
    parts = []
    if step.get("level"):
        parts.append(f"level {step['level']}")
    if step.get("from_level"):
        parts.append(f"from level {step['from_level']}")
    if step.get("tags"):
        parts.append("only " + ", ".join(str(tag) for tag in step["tags"]))
    if step.get("pinned_gib") is not None:
        parts.append(f"{float(step['pinned_gib']):.2f} GiB pinned")
    if "exit_code" in step:
        parts.append(f"exit code {step['exit_code']}")
    return "; ".join(parts)


def evidence_state(job: Job) -> str:
    state = (job.outcome_detail or {}).get("evidence")
    return EVIDENCE_STATES.get(str(state), NO_EVIDENCE) if state else NO_EVIDENCE


def job_instances(job: Job, steps: list[StepRow]) -> list[Instance]:
    """The job's instance, then every other one its steps acted on (a switch's victims)."""
    others = {row.instance_id for row in steps if row.instance_id not in (None, job.instance_id)}
    return [job.instance, *Instance.objects.filter(pk__in=others)]


def events_window(job: Job, now: datetime) -> tuple[datetime, datetime]:
    """From just before the job started to when its evidence stopped being awaited."""
    start = (job.started_at or job.created_at) - EVENTS_BEFORE
    wait = timedelta(seconds=settings.CONSOLE_JOB_EVIDENCE_WAIT)
    end = job.finished_at + wait if job.finished_at is not None else now
    return start, end


def job_events(job: Job, instances: list[Instance], now: datetime) -> list[EventRow]:
    start, end = events_window(job, now)
    events = EngineEvent.objects.filter(
        Q(instance__in=instances), at__gte=start, at__lte=end
    ).order_by("at", "pk")
    return [EventRow.of(event) for event in events[:MAX_EVENTS]]


class JobDetailView(ConsolePageMixin, JobDetailBase):
    """One job; ``static/js/job.js`` reloads it when the job's row changes (its evidence)."""

    template_name = "job.html"
    required_action = Action.VIEW
    queryset = Job.objects.select_related("instance", "requested_by")
    context_object_name = "job"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job: Job = self.object
        steps = [StepRow.of(step) for step in (job.outcome_detail or {}).get("steps") or []]
        context.update(
            steps=steps,
            instances=job_instances(job, steps),
            evidence=evidence_state(job),
            events=job_events(job, job_instances(job, steps), timezone.now()),
            page_config={
                "socket": f"/ws/instances/{job.instance_id}/",
                "job": job_update(job),
            },
        )
        return context
