"""Alerts: rules that send chosen events to an Apprise target, and each delivery made."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class AlertKind(models.TextChoices):
    """What the console can alert about; a rule names some of them (none: all of them)."""

    ENGINE_DIED = "engine_died", "an engine's process died"
    JOB_FAILED = "job_failed", "a job failed"
    JOB_REFUSED = "job_refused", "a wake, launch or sleep did not fit in GPU memory or host RAM"
    HOST_OFFLINE = "host_offline", "a host's agent stopped sending heartbeats"
    SLOW_WAKE = "slow_wake", "a wake took longer than the threshold"
    MEMORY_NEAR_FULL = "memory_near_full", "GPU memory or host RAM is nearly full"


# The kind of the page's and the API's "send a test": it matches only the rule tested.
TEST_KIND = "test"


def validate_alert_kinds(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise ValidationError("must be a list of event names")
    unknown = sorted(set(value) - set(AlertKind.values))
    if unknown:
        raise ValidationError(f"unknown events: {', '.join(unknown)}")


class NotificationRule(models.Model):
    """Events of the kinds in ``events`` (empty: every kind) go to the Apprise ``url``.

    The URL is a secret (it may hold a password or a webhook token): it is written, never
    shown back; pages and the API show ``masked_url``, which Apprise's privacy mode gives.
    At most ``max_per_hour`` deliveries an hour are sent; the rest are recorded suppressed.
    """

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(max_length=2000)
    masked_url = models.CharField(max_length=2000, editable=False)
    events = models.JSONField(default=list, blank=True, validators=[validate_alert_kinds])
    enabled = models.BooleanField(default=True)
    max_per_hour = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3600)]
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[NotificationRule]] = models.Manager()

    class Meta:
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return self.enabled and (not self.events or kind in self.events)


class DeliveryState(models.TextChoices):
    """pending -> sent | failed (retries stay pending); suppressed is final at creation."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class NotificationDelivery(models.Model):
    """One event sent (or not) to one rule's target, with every attempt counted.

    Transitions: ``pending -> sent`` or ``pending -> failed`` (conditional updates, so a
    redelivered task cannot record twice); ``suppressed`` (over the rule's rate limit) is
    written at creation. ``error`` says why the last attempt failed, secrets scrubbed.
    """

    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=40)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[NotificationDelivery]] = models.Manager()

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = (models.Index(fields=("rule", "-created_at"), name="delivery_rule_recent"),)

    def __str__(self) -> str:
        return f"{self.kind} ({self.state})"
