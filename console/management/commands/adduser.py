"""``manage.py adduser NAME --role viewer|operator|admin``: a user with one role."""

from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console import audit
from console.management.commands.createadmin import check_password
from console.models import Outcome
from console.roles import Role, assign_role


class Command(BaseCommand):
    help = (
        "Create a user with a role. Without --password one is generated and printed once. "
        "The last line is machine-readable: username=U role=R [password=P]."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[role.label for role in Role])
        parser.add_argument("--password", help="default: generated")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        role = Role[options["role"].upper()]
        users = get_user_model()._default_manager
        if users.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        given: str | None = options["password"]
        password = given or secrets.token_urlsafe(16)
        if given:
            check_password(given, username)
        with transaction.atomic():
            user = users.create_user(username=username, email=options["email"], password=password)
            assign_role(user, role)
            audit.record(
                None,
                "user.create",
                Outcome.OK,
                target=user,
                actor="manage.py",
                detail={"role": role.label},
            )
        line = f"username={username} role={role.label}"
        self.stdout.write(line if given else f"{line} password={password}")
