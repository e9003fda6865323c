"""Inference API keys: what API clients of the ``/v1/`` gateway present, apart from logins."""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from console.models.validators import validate_string_list

KEY_PREFIX = "vlc-"
# Enough of the key to tell keys apart in a list, far too little to guess the rest.
VISIBLE_CHARS = 8


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

    objects: ClassVar[models.Manager[InferenceKey]] = models.Manager()

    class Meta:
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, name: str, models_allowed: list[str], created_by_id: int | None = None
    ) -> tuple[InferenceKey, str]:
        """Create a key; returns the row and the key, which nothing stores."""
        key = new_key()
        row = cls.objects.create(
            name=name,
            prefix=key[: len(KEY_PREFIX) + VISIBLE_CHARS],
            key_hash=hash_key(key),
            allowed_models=models_allowed,
            created_by_id=created_by_id,
        )
        return row, key

    def may_use(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


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
