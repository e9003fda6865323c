"""``manage.py issue_inference_key NAME [--models A,B]``: a new key for the ``/v1/`` gateway."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console import audit
from console.models import Outcome
from console.models.gateway import InferenceKey


class Command(BaseCommand):
    help = (
        "Print a new inference key for the /v1/ gateway (shown once; only its hash is kept). "
        "Without --models it may use every model."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="who or what the key is for")
        parser.add_argument(
            "--models", default="", help="comma-separated served model names it may use"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"].strip()
        if not name:
            raise CommandError("the key needs a name")
        allowed = [m.strip() for m in options["models"].split(",") if m.strip()]
        with transaction.atomic():
            row, key = InferenceKey.issue(name, allowed)
            audit.record(None, "inference_key.issue", Outcome.OK, target=row,
                         detail={"models": allowed}, actor="manage.py")  # fmt: skip
        self.stdout.write(key)
