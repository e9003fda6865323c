"""Who a user is at the single sign-on provider."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignOnIdentity(models.Model):
    """Links a console user to the provider's subject (the OpenID Connect ``sub`` claim).

    A user signs in by subject, never by name or email: a provider account whose
    ``preferred_username`` matches a local account's name does not take that account over.
    No state: created at the first sign-on, deleted with the user.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_on_identity"
    )
    subject = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.subject} -> user {self.user_id}"
