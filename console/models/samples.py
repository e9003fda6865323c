"""Memory over time: samples of GPUs, hosts and instances, and their rollups."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from console.models.hosts import Gpu, Host
from console.models.instances import Instance


class Resolution(models.TextChoices):
    """Raw samples every second, rolled up to minutes and hours as they age."""

    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"


class Subject(models.TextChoices):
    """What a sample measures; the matching foreign key is set (a constraint holds it)."""

    GPU = "gpu"
    HOST = "host"
    INSTANCE = "instance"


class MemorySample(models.Model):
    """Used memory of a GPU, a host (RAM) or an instance at a time, or a rollup of many.

    For rollups ``used_bytes`` is the mean and ``min_used_bytes``/``max_used_bytes`` the
    extremes; ``extra`` holds other figures (e.g. ``kv_cache_usage``).
    """

    at = models.DateTimeField(db_index=True)
    resolution = models.CharField(max_length=3, choices=Resolution, default=Resolution.RAW)
    subject = models.CharField(max_length=10, choices=Subject)
    host = models.ForeignKey(
        Host, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    instance = models.ForeignKey(
        Instance, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    used_bytes = models.BigIntegerField()
    total_bytes = models.BigIntegerField(null=True, blank=True)
    min_used_bytes = models.BigIntegerField(null=True, blank=True)
    max_used_bytes = models.BigIntegerField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("at",)
        constraints = (
            models.CheckConstraint(
                condition=(Q(subject=Subject.GPU) & Q(gpu__isnull=False))
                | (Q(subject=Subject.HOST) & Q(host__isnull=False))
                | (Q(subject=Subject.INSTANCE) & Q(instance__isnull=False)),
                name="sample_subject_has_its_key",
            ),
        )
        indexes = (
            models.Index(fields=["gpu", "resolution", "at"], name="sample_gpu_time"),
            models.Index(fields=["host", "resolution", "at"], name="sample_host_time"),
            models.Index(fields=["instance", "resolution", "at"], name="sample_instance_time"),
        )

    def __str__(self) -> str:
        return f"{self.subject} sample at {self.at:%Y-%m-%d %H:%M:%S}"
