"""``manage.py up``: the whole console on one machine (see console.services.up)."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser, BooleanOptionalAction
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.services.redis import EmbeddedRedisError
from console.services.up import UpError, UpOptions, run


class Command(BaseCommand):
    help = "Run the console (web, worker, beat, embedded Redis) until Ctrl-C."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--data-dir", type=Path, help="overrides CONSOLE_DATA_DIR")
        parser.add_argument(
            "--demo",
            action=BooleanOptionalAction,
            default=None,
            help="launch two emulated engines (default: when no GPU and no instance exists)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir: Path | None = options["data_dir"]
        if data_dir is not None and data_dir.resolve() != settings.DATA_DIR:
            # Settings were read before the flag: start again with the env that sets it.
            env = {**os.environ, "CONSOLE_DATA_DIR": str(data_dir.resolve())}
            argv = [a for i, a in enumerate(sys.argv) if not _is_data_dir_arg(sys.argv, i)]
            os.execve(sys.executable, [sys.executable, *argv], env)
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port {options['port']} is not a TCP port")
        try:
            code = run(UpOptions(options["bind"], options["port"], options["demo"]))
        except (UpError, EmbeddedRedisError) as error:
            raise CommandError(str(error)) from None
        if code:
            sys.exit(code)


def _is_data_dir_arg(argv: list[str], index: int) -> bool:
    """True for ``--data-dir X`` (both words) and ``--data-dir=X``."""
    word = argv[index]
    if word.startswith("--data-dir"):
        return True
    return index > 0 and argv[index - 1] == "--data-dir"
