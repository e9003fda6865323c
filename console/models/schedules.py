"""When an instance is kept awake and when it is put to sleep (``console.jobs.timetable``)."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from console.models.instances import Instance


class InstanceSchedule(models.Model):
    """An instance's awake windows and timed sleeps, in its own time zone.

    ``awake_windows``: ``[{"days": ["mon", ...], "start": "08:00", "end": "19:00"}]``;
    ``timed_sleeps``: ``[{"days": [...], "at": "01:00", "level": 2}]`` (validated and
    normalised by ``console.jobs.timetable.parse``). ``handled_until`` is the evaluator's
    mark: every window start and timed sleep at or before it has been acted on (or given
    up); it only moves forward, by a conditional update, so two beat rounds never act twice.
    """

    instance = models.OneToOneField(Instance, on_delete=models.CASCADE, related_name="schedule")
    timezone = models.CharField(max_length=64, default="UTC")
    awake_windows = models.JSONField(default=list, blank=True)
    timed_sleeps = models.JSONField(default=list, blank=True)
    handled_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"schedule of instance {self.instance_id}"
