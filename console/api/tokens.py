"""REST API tokens, stored hashed (django-rest-knox): only a SHA-512 digest and the key's
first 15 characters (to find the row) are kept; the key itself is shown once.

Clients send it as before: ``Authorization: Token <key>``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed


class HashedTokenAuthentication(TokenAuthentication):  # type: ignore[misc]
    """knox's token check, with a key that is not UTF-8 refused as DRF's own check does
    (knox lets the UnicodeDecodeError out: a 500)."""

    def authenticate_credentials(self, token: bytes) -> Any:
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token header.") from None
        return super().authenticate_credentials(token)


class HashedTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The OpenAPI security scheme: ``Authorization: Token <key>``."""

    target_class = HashedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }


def new_token(user: AbstractBaseUser, expiry: timedelta | None = None) -> str:
    """A new key for ``user``, beside any it already has; without expiry unless given."""
    _row, key = AuthToken.objects.create(user, expiry=expiry)
    return str(key)


def issue_token(user: AbstractBaseUser) -> str:
    """A new key for ``user``; the keys issued before stop working."""
    with transaction.atomic():
        AuthToken.objects.filter(user=user).delete()
        return new_token(user)
