"""What happened to engines: the events their logs tell (sleeps, wakes, crashes)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from console.models.instances import Instance
from console.models.jobs import Job


class EngineEvent(models.Model):
    """One thing an engine did or that happened to it; rows are only ever added.

    ``kind`` is free text: the log parser's event kinds (sleep, wake, cumem_freed,
    model_loaded, kv_cache, server_started, engine_dead, wake_oom...) plus the console's own
    (state_corrected, engine_died...). The figures are those the event carries; the rest
    goes to ``data``.
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
