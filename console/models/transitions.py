"""Conditional state updates: the one way a row's ``state`` column changes.

Two clicks, two workers or a worker and the reconcile loop may try to move the same row at
once. Each transition is a single ``UPDATE ... WHERE id = %s AND state IN (...)`` whose row
count says whether this caller won; nobody reads the state, decides, then writes it back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone


class IllegalTransitionError(ValueError):
    """A caller asked for a move the model's transition table does not allow (a bug)."""


def check_allowed(
    allowed: Collection[tuple[str, str]], expected: Iterable[str], to: str, what: str
) -> None:
    """Raise unless every ``(from, to)`` pair is in the table."""
    illegal = sorted(str(state) for state in expected if (state, to) not in allowed)
    if illegal:
        raise IllegalTransitionError(f"{what}: {', '.join(illegal)} -> {to} is not allowed")


def conditional_update(
    model: type[models.Model], pk: int, expected: Collection[str], **fields: Any
) -> bool:
    """``UPDATE model SET fields WHERE pk = pk AND state IN expected``; True when one row moved.

    A unique constraint that the update would break (another job already running) reads as
    "lost the race", like a state that changed under us. The savepoint keeps the caller's
    transaction usable after that IntegrityError on PostgreSQL.
    """
    if not expected:
        return False
    if _has_field(model, "updated_at"):
        # QuerySet.update() skips auto_now fields.
        fields.setdefault("updated_at", timezone.now())
    try:
        with transaction.atomic():
            rows = model._default_manager.filter(pk=pk, state__in=list(expected)).update(**fields)
    except IntegrityError:
        return False
    return rows == 1


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(field.name == name for field in model._meta.get_fields())
