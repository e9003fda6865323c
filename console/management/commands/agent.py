"""``manage.py agent --host NAME``: the agent of one GPU host (see console.agent)."""

from __future__ import annotations

import socket
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from console.agent.command import AgentOptions, run_agent
from engines.launcher.spec import validate_name


class Command(BaseCommand):
    help = "Register this GPU host, sample its memory, follow engine logs, run its launch jobs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=socket.gethostname().split(".")[0])
        parser.add_argument("--sim-gpus", type=int, default=0, help="simulate N GPUs (no NVIDIA)")
        parser.add_argument("--sim-gpu-gib", type=float, default=24.0)
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
        parser.add_argument("--concurrency", type=int, default=4)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            validate_name(options["host"])
        except ValueError as error:
            raise CommandError(f"--host: {error}") from None
        if options["interval"] <= 0 or options["sim_gpus"] < 0 or options["sim_gpu_gib"] <= 0:
            raise CommandError("--interval and --sim-gpu-gib must be positive, --sim-gpus >= 0")
        run_agent(
            AgentOptions(
                options["host"],
                options["sim_gpus"],
                options["sim_gpu_gib"],
                options["interval"],
                options["concurrency"],
            )
        )
