"""``manage.py createadmin``: the first admin, without prompts (for scripts and containers)."""

from __future__ import annotations

import os
import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console import audit
from console.models import Outcome
from console.roles import Role, admins_exist, assign_role

PASSWORD_ENV = "CONSOLE_ADMIN_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create an admin user. Without --password (or $CONSOLE_ADMIN_PASSWORD) a password is "
        "generated and printed once. The last line is machine-readable: username=U [password=P]."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", help=f"default: ${PASSWORD_ENV}, else generated")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing when any admin exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        if options["if_missing"] and admins_exist():
            self.stdout.write("an admin exists; nothing done")
            return
        users = get_user_model()._default_manager
        if users.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        given = options["password"] or os.environ.get(PASSWORD_ENV) or None
        password = given or secrets.token_urlsafe(16)
        if given:
            check_password(given, username)
        with transaction.atomic():
            user = users.create_superuser(
                username=username, email=options["email"], password=password
            )
            assign_role(user, Role.ADMIN)
            audit.record(None, "user.create", Outcome.OK, target=user, actor="manage.py")
        # A password the caller chose is never echoed; a generated one is shown this once.
        self.stdout.write(
            f"username={username}" if given else f"username={username} password={password}"
        )


def check_password(password: str, username: str) -> None:
    """The settings' password validators, as one CommandError line."""
    try:
        password_validation.validate_password(password, get_user_model()(username=username))
    except ValidationError as error:
        raise CommandError("password refused: " + " ".join(error.messages)) from None
