"""The mozilla-django-oidc backend, with the console's own accounts and roles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from console.sso.accounts import sign_in
from console.sso.config import OidcConfig


class ConsoleOidcBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Finds the user by subject (``console.sso.accounts``), not by email as the library does."""

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
