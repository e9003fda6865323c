"""Sign-on pages: start, the provider's callback (404 while sign-on is off), the refusal."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from console.sso import discovery
from console.sso.accounts import REFUSAL_SESSION_KEY, UNAVAILABLE_SESSION_KEY, unreachable
from console.sso.config import ENDPOINT_SETTINGS, OidcConfig


def _require_sign_on() -> OidcConfig:
    # The library's views read their settings when built: off, they would answer 500.
    config: OidcConfig | None = settings.CONSOLE_OIDC
    if config is None:
        raise Http404("Single sign-on is not configured.")
    return config


class _RequestView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """The library's view, with the authorization endpoint discovered where it is not set."""

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        if attr == ENDPOINT_SETTINGS["authorization"]:
            return discovery.endpoints(_require_sign_on())["authorization"]
        return import_from_settings(attr, *args)


def start(request: HttpRequest) -> HttpResponseBase:
    """Send the browser to the provider (or say why it cannot be reached)."""
    config = _require_sign_on()
    try:
        discovery.endpoints(config)
    except discovery.DiscoveryError as error:
        unreachable(request, config, error)
        return redirect("sso-refused")
    return _RequestView.as_view()(request)  # type: ignore[no-any-return]


def callback(request: HttpRequest) -> HttpResponseBase:
    """The provider sends the browser back here with a code."""
    _require_sign_on()
    return OIDCAuthenticationCallbackView.as_view()(request)  # type: ignore[no-any-return]


def refused(request: HttpRequest) -> HttpResponse:
    """Why sign-on did not sign the user in (the reason is shown once)."""
    unavailable = request.session.pop(UNAVAILABLE_SESSION_KEY, "")
    reason = request.session.pop(REFUSAL_SESSION_KEY, "")
    context = {"reason": unavailable or reason or "The sign-on did not complete; try again.",
               "unavailable": bool(unavailable),
               "local_login": settings.CONSOLE_LOCAL_LOGIN}  # fmt: skip
    return render(request, "registration/sso_refused.html", context, status=403)
