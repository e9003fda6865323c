"""Sign-on pages: start, the provider's callback (404 while sign-on is off), the refusal."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from console.sso.accounts import REFUSAL_SESSION_KEY


def _require_sign_on() -> None:
    # The library's views read their settings when built: off, they would answer 500.
    if settings.CONSOLE_OIDC is None:
        raise Http404("Single sign-on is not configured.")


def start(request: HttpRequest) -> HttpResponseBase:
    """Send the browser to the provider."""
    _require_sign_on()
    return OIDCAuthenticationRequestView.as_view()(request)  # type: ignore[no-any-return]


def callback(request: HttpRequest) -> HttpResponseBase:
    """The provider sends the browser back here with a code."""
    _require_sign_on()
    return OIDCAuthenticationCallbackView.as_view()(request)  # type: ignore[no-any-return]


def refused(request: HttpRequest) -> HttpResponse:
    """Why sign-on did not sign the user in (the reason is shown once)."""
    reason = request.session.pop(REFUSAL_SESSION_KEY, "")
    context = {"reason": reason or "The sign-on did not complete; try again.",
               "local_login": settings.CONSOLE_LOCAL_LOGIN}  # fmt: skip
    return render(request, "registration/sso_refused.html", context, status=403)
