"""The mozilla-django-oidc backend, with the console's own accounts and roles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from console.sso import discovery
from console.sso.accounts import sign_in, unreachable
from console.sso.config import ENDPOINT_SETTINGS, OidcConfig

# What an endpoint left to discovery holds until a sign-on comes back (never sent anywhere).
NOT_YET_DISCOVERED = "(read from the discovery document at sign-on)"


def endpoint_settings(attr: str, *args: Any) -> Any:
    """The library's settings, where an endpoint left to discovery reads as a placeholder:
    the backend is built for every request of a signed-in user, and must never wait on the
    provider there; the endpoints are filled in when a sign-on comes back (below)."""
    if attr in ENDPOINT_SETTINGS.values():
        return import_from_settings(attr, NOT_YET_DISCOVERED)
    return import_from_settings(attr, *args)


class ConsoleOidcBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Finds the user by subject (``console.sso.accounts``), not by email as the library does."""

    get_settings = staticmethod(endpoint_settings)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> AbstractUser | None:
        config: OidcConfig | None = settings.CONSOLE_OIDC
        if config is not None and request is not None and request.GET.get("code"):
            try:
                found = discovery.endpoints(config)
            except discovery.DiscoveryError as error:
                unreachable(request, config, error)
                return None
            self.OIDC_OP_TOKEN_ENDPOINT = found["token"]
            self.OIDC_OP_USER_ENDPOINT = found["userinfo"]
            self.OIDC_OP_JWKS_ENDPOINT = found["jwks"]
        user: AbstractUser | None = super().authenticate(request, **kwargs)
        return user

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> AbstractUser | None:
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            return None
        config: OidcConfig | None = settings.CONSOLE_OIDC
        if config is None:  # turned off since this backend was listed
            return None
        return sign_in(self.request, claims, config)
