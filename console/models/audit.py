"""The audit log: who did what to which object, from where, and how it ended."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntryImmutableError(TypeError):
    """Audit entries are written once; editing or deleting one is refused."""


class Outcome(models.TextChoices):
    """How the audited request ended."""

    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    """Refuses bulk edits and deletes, the way around ``AuditEntry.save``/``delete``."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditEntryImmutableError("audit entries cannot be changed")

    def delete(self) -> NoReturn:
        raise AuditEntryImmutableError("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One audited action; append-only (no state: rows are written once, never changed).

    ``username`` is kept when the user is deleted (``user`` becomes null). ``detail``
    never holds secrets: ``console.audit.record`` is the only writer and redacts them.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = (
            "-at",
            "-id",
        )
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEntryImmutableError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditEntryImmutableError("audit entries cannot be deleted")
