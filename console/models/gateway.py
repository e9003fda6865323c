"""Inference API keys: what API clients of the ``/v1/`` gateway present, apart from logins."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from console.models.validators import validate_string_list

KEY_PREFIX = "vlc-"
# Enough of the key to tell keys apart in a list, far too little to guess the rest.
VISIBLE_CHARS = 8
# The largest value each limit takes: far above any real use, and small enough that the
# gateway's Redis counters (64-bit) can never overflow adding them up.
LIMIT_MAXIMUMS = {"requests_per_minute": 1_000_000, "tokens_per_minute": 1_000_000_000,
                  "max_concurrent": 100_000}  # fmt: skip


def limit_field(name: str, help_text: str) -> models.PositiveIntegerField[int | None, int | None]:
    bounds = [MinValueValidator(1), MaxValueValidator(LIMIT_MAXIMUMS[name])]
    return models.PositiveIntegerField(null=True, blank=True, validators=bounds,
                                       help_text=help_text)  # fmt: skip


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256 (keys are long random tokens, so no salt)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class InferenceKey(models.Model):
    """A bearer key for the ``/v1/`` gateway, limited to some models (empty list = all).

    Only the key's hash is stored; the key itself is shown once when issued. A key is
    usable until ``revoked_at`` is set (no state machine: revoking is one-way and final).
    ``last_used_at`` is written by the gateway in batches, about once a second.
    The limits (empty: none) are enforced by the gateway (``console.gateway.quota``).
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=20, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    allowed_models = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    requests_per_minute = limit_field("requests_per_minute", "Requests in any 60 s.")
    tokens_per_minute = limit_field("tokens_per_minute", "Prompt + completion tokens in any 60 s.")
    max_concurrent = limit_field("max_concurrent", "Requests in flight (held ones too).")

    objects: ClassVar[models.Manager[InferenceKey]] = models.Manager()

    class Meta:
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls,
        name: str,
        models_allowed: list[str],
        created_by_id: int | None = None,
        **limits: int | None,
    ) -> tuple[InferenceKey, str]:
        """Create a key; returns the row and the key, which nothing stores.

        ``limits``: ``requests_per_minute``, ``tokens_per_minute``, ``max_concurrent``.
        """
        key = new_key()
        row = cls.objects.create(
            name=name,
            prefix=key[: len(KEY_PREFIX) + VISIBLE_CHARS],
            key_hash=hash_key(key),
            allowed_models=models_allowed,
            created_by_id=created_by_id,
            **limits,
        )
        return row, key

    def may_use(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models

    def set_limits(self, limits: Mapping[str, int | None]) -> list[str]:
        """Save the limits that differ, and only them: a revoke or a ``last_used_at`` written
        since the row was read stays (a whole-row save would write them back as they were
        read). Returns the names of those that changed.

        Saved through the ORM on purpose: its ``post_save`` makes every gateway process
        reload its keys before the next request (``console.gateway.keyversion``).
        """
        changed = sorted(name for name, value in limits.items() if getattr(self, name) != value)
        for name in changed:
            setattr(self, name, limits[name])
        if changed:
            self.save(update_fields=changed)
        return changed


class GatewaySample(models.Model):
    """What the gateway did for one model during one interval (about a minute).

    Rows are the differences between two readings of the gateway's counters, so a query
    sums them over any range. Only ever added; the oldest are deleted by retention.
    """

    at = models.DateTimeField(db_index=True)
    model = models.CharField(max_length=200)
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    held_seconds = models.FloatField(default=0.0)
    wakes_on_request = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)

    objects: ClassVar[models.Manager[GatewaySample]] = models.Manager()

    class Meta:
        ordering = ("at", "pk")
        indexes = (models.Index(fields=["model", "at"], name="gateway_sample_model_at"),)

    def __str__(self) -> str:
        return f"{self.model} at {self.at:%Y-%m-%d %H:%M}"


class KeyUsage(models.Model):
    """What one inference key used of one model during one hour (UTC).

    Written only by the beat task that drains the gateway's counters from Redis
    (``console.gateway.usage_store``), never on the request path; days are sums of hours.
    ``held_seconds`` is the time its requests waited before an engine got them (a sleeping
    model woken); ``rejected`` counts its 429s (over a limit of the key).
    """

    key = models.ForeignKey(InferenceKey, on_delete=models.CASCADE, related_name="usage")
    model = models.CharField(max_length=200)
    hour = models.DateTimeField()
    requests = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    held_seconds = models.FloatField(default=0.0)
    rejected = models.PositiveBigIntegerField(default=0)

    objects: ClassVar[models.Manager[KeyUsage]] = models.Manager()

    class Meta:
        ordering = ("hour", "key", "model")
        constraints = (
            models.UniqueConstraint(fields=["key", "model", "hour"], name="key_usage_once"),
        )
        indexes = (models.Index(fields=["hour"], name="key_usage_hour"),)

    def __str__(self) -> str:
        return f"key {self.key_id} {self.model} at {self.hour:%Y-%m-%d %H:00}"
