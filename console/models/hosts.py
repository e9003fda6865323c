"""GPU hosts (one agent each) and the GPUs they report."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models

# An agent heartbeats every few seconds; three missed beats make the host "offline".
HEARTBEAT_STALE_AFTER = timedelta(seconds=30)


class Host(models.Model):
    """A machine with GPUs, where an agent launches engines and samples memory.

    No state column: "online" is derived from ``last_heartbeat`` (see ``is_online``).
    """

    name = models.SlugField(max_length=100, unique=True)
    address = models.CharField(max_length=255, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    agent_version = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def is_online(self, now: datetime, stale_after: timedelta = HEARTBEAT_STALE_AFTER) -> bool:
        """True when the agent's last heartbeat is more recent than ``stale_after``."""
        return self.last_heartbeat is not None and now - self.last_heartbeat <= stale_after


class Gpu(models.Model):
    """One GPU of a host, as the agent's probe reports it (index as CUDA numbers it)."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="gpus")
    index = models.PositiveSmallIntegerField()
    uuid = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=100, blank=True)
    total_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = (
            "host__name",
            "index",
        )
        constraints = (
            models.UniqueConstraint(fields=["host", "index"], name="gpu_unique_host_index"),
        )

    def __str__(self) -> str:
        return f"{self.host.name}:{self.index}"
