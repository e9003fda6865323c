"""Jobs: one row per operation asked of an engine, with its outcome and its figures."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from console.models.instances import Instance
from console.models.signals import job_state_changed
from console.models.transitions import check_allowed, conditional_update


class JobKind(models.TextChoices):
    """What the job does to its instance."""

    LAUNCH = "launch"
    STOP = "stop"
    SLEEP = "sleep"
    WAKE = "wake"
    SWITCH = "switch"


class JobState(models.TextChoices):
    """Where the job is; see ``Job`` for the moves between states."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


J = JobState
FINISHED = frozenset({J.SUCCEEDED, J.FAILED, J.CANCELLED})
ACTIVE = frozenset({J.QUEUED, J.RUNNING})
JOB_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (J.QUEUED, J.RUNNING),
        (J.QUEUED, J.CANCELLED),
        (J.QUEUED, J.FAILED),
        (J.RUNNING, J.SUCCEEDED),
        (J.RUNNING, J.FAILED),
        (J.RUNNING, J.CANCELLED),
    }
)


class Job(models.Model):
    """An operation on one instance, run by a Celery worker or a host agent.

    States (``JobState``) and the allowed moves (``JOB_TRANSITIONS``):

    - queued -> running: a worker picked it up (``started_at`` is set);
    - queued -> cancelled: withdrawn before any worker took it;
    - queued -> failed: refused before it ran (e.g. the wake would not fit in memory);
    - running -> succeeded | failed: the worker recorded the outcome (``finished_at``);
    - running -> cancelled: the worker stopped at a safe point after a cancel request;
      an HTTP call already sent to the engine is not undone.

    At most one job per instance is running (a partial unique constraint), so two workers
    never drive the same engine at once; ``transition_job`` reports that as a lost race.
    """

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=10, choices=JobKind)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=JobState, default=JobState.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_from = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    engine_seconds = models.FloatField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    freed_gib = models.FloatField(null=True, blank=True)
    backed_up_gib = models.FloatField(null=True, blank=True)
    still_in_use_gib = models.FloatField(null=True, blank=True)
    gpu_used_before_bytes = models.BigIntegerField(null=True, blank=True)
    gpu_used_after_bytes = models.BigIntegerField(null=True, blank=True)
    first_request_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    log_excerpt = models.TextField(blank=True)
    outcome_detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = (
            "-created_at",
            "-id",
        )
        constraints = (
            models.UniqueConstraint(
                fields=["instance"],
                condition=Q(state="running"),
                name="job_one_running_per_instance",
            ),
        )
        indexes = (models.Index(fields=["instance", "-created_at"], name="job_instance_created"),)

    def __str__(self) -> str:
        return f"{self.kind} {self.instance_id} ({self.state})"

    @property
    def author(self) -> str:
        """Who asked: the user, the inference key whose request woke it through the
        gateway, or "schedule" (an instance's schedule); empty for the idle ladder's."""
        if self.requested_by is not None:
            return self.requested_by.get_username()
        params = self.params or {}
        if params.get("inference_key"):
            return f"inference key {params['inference_key']}"
        return "schedule" if params.get("via") == "schedule" else ""


def transition_job(
    job_id: int, expected: Collection[JobState], to: JobState, **fields: Any
) -> bool:
    """Move the job to ``to`` if it is in one of ``expected``; True when this call did.

    Stamps ``started_at`` on running and ``finished_at`` on a finished state. Returns False
    when the job was elsewhere, or when another job of the instance is already running.
    """
    check_allowed(JOB_TRANSITIONS, expected, to, "job")
    now = timezone.now()
    if to == JobState.RUNNING:
        fields.setdefault("started_at", now)
    elif to in FINISHED:
        fields.setdefault("finished_at", now)
    moved = conditional_update(Job, job_id, expected, state=to, **fields)
    if moved:  # Every job move reaches the pages (realtime.notify).
        job_state_changed.send(sender=Job, job_id=job_id)
    return moved
