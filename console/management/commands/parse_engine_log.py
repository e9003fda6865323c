"""``manage.py parse_engine_log PATH``: the sleep, wake and memory events of a vLLM log."""

from __future__ import annotations

import json
import os
import sys
from argparse import ArgumentParser
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from engines.logparser import EngineLogEvent, stream_events
from engines.logparser.events import FIGURES

Formatter = Callable[[EngineLogEvent], str]

# Column widths of the table; wide enough for "VllmWorker rank=0" and "server_started".
_COLUMNS = (("TIME", 19), ("PROCESS", 18), ("PID", 7), ("EVENT", 14))


class Command(BaseCommand):
    help = "Print the events of a vLLM log file ('-' reads standard input) as a table or JSON."
    # Reading a log needs neither the database nor the URL conf: skip the system checks,
    # so the command works (and starts fast) on a host with only the engine side set up.
    requires_system_checks = ()

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="the log file, or - for standard input")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument(
            "--year",
            type=int,
            help="year of the log's timestamps (default: the latest that is not in the future)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year: int | None = options["year"]
        if year is not None and not 1 <= year <= 9999:
            raise CommandError(f"--year {year} is not a year")
        show = _json_line if options["json"] else _table_row
        with _open(options["path"]) as stream:
            if not options["json"]:
                self.stdout.write(_row([title for title, _ in _COLUMNS] + ["FIGURES"]))
            try:
                self._print(stream, year, show)
            except BrokenPipeError:
                # The reader went away ("| head"): stop quietly, like other filters, and
                # point stdout at /dev/null so the flush at exit cannot fail again.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def _print(self, stream: BinaryIO, year: int | None, show: Formatter) -> None:
        out: OutputWrapper = self.stdout
        for events in stream_events(stream, year=year):
            for event in events:
                out.write(show(event))
            out.flush()


def _open(path: str) -> AbstractContextManager[BinaryIO]:
    if path == "-":
        # Standard input stays open: it is not ours to close.
        return nullcontext(sys.stdin.buffer)
    try:
        return Path(path).open("rb")
    except FileNotFoundError:
        raise CommandError(f"no such log file: {path}") from None
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None


def _json_line(event: EngineLogEvent) -> str:
    return json.dumps(event.to_json_dict())


def _table_row(event: EngineLogEvent) -> str:
    figures = " ".join(f"{key}={_figure(getattr(event, key))}" for key in FIGURES[event.event])
    when = event.timestamp.isoformat(sep=" ") if event.timestamp is not None else "-"
    pid = str(event.pid) if event.pid is not None else "-"
    return _row([when, event.process or "-", pid, event.event.value, figures])


def _row(cells: list[str]) -> str:
    padded = [cell.ljust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=False)]
    return "  ".join([*padded, *cells[len(_COLUMNS) :]]).rstrip()


def _figure(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return ",".join(value) or "[]"
    return str(value)
