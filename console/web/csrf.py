"""CSRF failures on the pages: refused like Django refuses them, and audited.

DRF's API views check CSRF themselves and audit the 403 in ``ConsoleAPIView``; this view
(``CSRF_FAILURE_VIEW``) covers every page form: login, logout, keys, revoke.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.csrf import csrf_failure as django_csrf_failure

from console import audit
from console.models import Outcome

CSRF_ACTION = "request.csrf"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's 403 page, after one ``request.csrf`` entry naming the path and the reason."""
    audit.record(
        request,
        CSRF_ACTION,
        Outcome.REFUSED,
        detail={"method": request.method, "path": request.path[:200], "reason": reason},
    )
    return django_csrf_failure(request, reason)
