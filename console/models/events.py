"""What happened to engines: the events their logs tell (sleeps, wakes, crashes)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from console.models.instances import Instance
from console.models.jobs import Job


class EngineEvent(models.Model):
    """One thing an engine did or that happened to it; rows are only ever added.

    ``kind`` is free text: the log parser's event kinds (``engines.logparser.EventKind``)
    plus the console's own (state_corrected, engine_died...). A parsed line's figures are
    in their columns and, with what else it said (tags, worker, time printed), in ``data``
    (the parser's JSON); ``job`` is the job whose evidence the event is.
    """

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="events")
    job = models.ForeignKey(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(max_length=40)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    seconds = models.FloatField(null=True, blank=True)
    freed_gib = models.FloatField(null=True, blank=True)
    backed_up_gib = models.FloatField(null=True, blank=True)
    still_in_use_gib = models.FloatField(null=True, blank=True)
    gib = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = (
            "-at",
            "-id",
        )
        indexes = (models.Index(fields=["instance", "at"], name="event_instance_at"),)

    def __str__(self) -> str:
        return f"{self.kind} {self.instance_id} at {self.at:%Y-%m-%d %H:%M:%S}"

    def figure(self, name: str) -> float | None:
        """A figure's column; rows stored before the agent filled the columns have it in
        ``data`` only."""
        value = getattr(self, name)
        if value is None:
            value = (self.data or {}).get(name)
        return float(value) if isinstance(value, int | float) else None
