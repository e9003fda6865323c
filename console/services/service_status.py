"""Services ``manage.py up`` reports as failing, for the banner every page shows.

The supervisor writes them to a small file in the data dir rather than to Redis or the
database: the service that keeps failing may be Redis itself, and a file needs no
migration. The web process, a child of the same ``up``, reads it on each page.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from console.services.supervisor import FailingChild

STATUS_FILE_NAME = "failing-services.json"


def status_path(data_dir: Path) -> Path:
    return data_dir / "run" / STATUS_FILE_NAME


def write_failing(path: Path, failing: list[FailingChild]) -> None:
    """Replace the list atomically (readers see the old one or the new one); none: no file."""
    if not failing:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump([asdict(child) for child in failing], handle)
    tmp.replace(path)


def read_failing(path: Path) -> list[FailingChild]:
    """The failing services; [] when there is no list or it cannot be read."""
    try:
        raw = json.loads(path.read_text())
        return [FailingChild(**entry) for entry in raw]
    except (OSError, ValueError, TypeError):
        return []


def failing_services(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``failing_services`` for signed-in users (the banner in base.html)."""
    if not request.user.is_authenticated:
        return {}
    return {"failing_services": read_failing(status_path(settings.DATA_DIR))}
