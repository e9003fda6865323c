"""``GET /metrics``: open when ``CONSOLE_METRICS_PUBLIC=1``; otherwise a bearer token
(``CONSOLE_METRICS_TOKEN``, what Prometheus' ``authorization`` setting sends) or a
signed-in user with a role. A scrape reads the database, never an engine."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from console.promexport.collector import console_registry
from console.roles import Action, can


def allowed(request: HttpRequest) -> bool:
    if settings.CONSOLE_METRICS_PUBLIC or can(request.user, Action.VIEW):
        return True
    token = settings.CONSOLE_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        response = HttpResponse(
            "metrics need a bearer token\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(console_registry()), content_type=CONTENT_TYPE_LATEST)
