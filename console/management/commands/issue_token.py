"""``manage.py issue_token USERNAME``: a new API token, printed this once (only its hash is
stored); the user's old ones stop working."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console import audit
from console.api.tokens import issue_token
from console.models import Outcome


class Command(BaseCommand):
    help = "Print a new API token for USERNAME (shown once), revoking the previous ones."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        user = get_user_model()._default_manager.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive")
        with transaction.atomic():
            key = issue_token(user)
            audit.record(None, "token.issue", Outcome.OK, target=user, actor="manage.py")
        self.stdout.write(key)
