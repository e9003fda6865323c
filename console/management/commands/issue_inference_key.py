"""``manage.py issue_inference_key NAME [--models A,B] [--requests-per-minute N]
[--tokens-per-minute N] [--max-concurrent N]``: a new key for the ``/v1/`` gateway."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console import audit
from console.models import Outcome
from console.models.gateway import LIMIT_MAXIMUMS, InferenceKey


def limit(name: str) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to the limit's maximum."""

    def parse(raw: str) -> int:
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= LIMIT_MAXIMUMS[name]:
            raise ArgumentTypeError(f"a whole number from 1 to {LIMIT_MAXIMUMS[name]}: {raw!r}")
        return int(raw)

    return parse


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
        for name in LIMIT_MAXIMUMS:
            words = name.replace("_", " ")
            parser.add_argument(
                f"--{name.replace('_', '-')}", type=limit(name), help=f"{words}; default: none"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"].strip()
        if not name:
            raise CommandError("the key needs a name")
        allowed = [m.strip() for m in options["models"].split(",") if m.strip()]
        limits = {name: options[name] for name in LIMIT_MAXIMUMS}
        with transaction.atomic():
            row, key = InferenceKey.issue(name, allowed, **limits)
            audit.record(None, "inference_key.issue", Outcome.OK, target=row,
                         detail={"models": allowed, **limits}, actor="manage.py")  # fmt: skip
        self.stdout.write(key)
