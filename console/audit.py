"""Writing the audit log: ``record`` is the one writer of ``AuditEntry`` rows.

Every state-changing request ends here, refused and invalid ones included. Secrets never
reach the row: values under a secret-looking key are replaced before it is written.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.http import HttpRequest
from rest_framework.request import Request

from console.models import AuditEntry, Outcome

REDACTED = "[redacted]"
# Substrings of keys whose values are secrets (api_key, launch_env, password, token...).
_SECRET_MARKERS = ("key", "env", "password", "secret", "token", "authorization")
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def record(
    request: HttpRequest | Request | None,
    action: str,
    outcome: Outcome,
    *,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    detail: Mapping[str, Any] | None = None,
    actor: str = "",
) -> AuditEntry:
    """Append one audit entry for ``action`` by the request's user (or ``actor``).

    ``target_type``/``target_id`` name the target when there is no object (refused before
    it was loaded) or override the object's (its pk is gone once deleted).
    """
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return AuditEntry.objects.create(
        user=user if signed_in else None,
        username=user.get_username() if signed_in and user is not None else actor,
        action=action,
        target_type=target_type or (type_name(target) if target is not None else ""),
        target_id=target_id or (str(target.pk) if target is not None and target.pk else ""),
        target_repr=str(target)[:200] if target is not None else "",
        remote_addr=remote_addr(request),
        outcome=outcome,
        detail=redact(dict(detail or {})),
    )


def type_name(target: models.Model) -> str:
    """``InferenceKey`` -> ``inference_key``: the name the API's audit types use too
    (Django's ``model_name``, ``inferencekey``, gave one target two names)."""
    return _WORD_START.sub("_", target._meta.object_name or "").lower()


def remote_addr(request: HttpRequest | Request | None) -> str | None:
    """The peer address as Django saw it (a proxy's own header is not trusted here)."""
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking key's value replaced."""
    if isinstance(value, Mapping):
        return {
            redact(str(key)): REDACTED if _is_secret(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        # PostgreSQL's JSON refuses NUL; the audit must record even such a request.
        return value.replace("\x00", "\ufffd")
    return value


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)
