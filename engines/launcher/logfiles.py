"""The engine's log file: rotation at start and reading its last lines.

The child writes straight into ``engine.log`` (no pipe through the launcher), so the
log survives the launcher's own restarts and a slow reader can never block the engine.
The price: the file cannot be capped while the engine runs. It is rotated each time
the instance starts (``engine.log`` → ``engine.log.1`` → ... → ``engine.log.<keep>``),
which bounds the disk used to ``keep + 1`` runs. The file is opened with ``O_APPEND``,
so an external ``logrotate`` with ``copytruncate`` also works: after the truncation
the child keeps writing at the new end instead of leaving a hole.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

KEEP_ROTATED = 3
TAIL_BYTES = 64 * 1024

# vLLM's "non-default args: {...}" startup line (vllm 0.11.0 entrypoints/utils.py:233)
# prints the values of --api-key and --hf-token; error reports must not carry them.
_SECRET_ARG_RE = re.compile(r"""('(?:api_key|hf_token)': )(\[[^\]]*\]|'[^']*'|"[^"]*")""")


def redact_secrets(line: str) -> str:
    """``line`` with the API key and token values of a vLLM args dump replaced by ``***``."""
    return _SECRET_ARG_RE.sub(r"\1'***'", line)


def rotate_logs(path: Path, keep: int = KEEP_ROTATED) -> None:
    """Shift ``path`` to ``path.1`` and older copies up by one, dropping ``path.<keep>``."""
    path.with_name(f"{path.name}.{keep}").unlink(missing_ok=True)
    for number in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{number}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{number + 1}"))
    if path.exists():
        path.replace(path.with_name(f"{path.name}.1"))


def open_for_child(path: Path) -> int:
    """A write-only, append-mode descriptor on a fresh ``path`` for the child's stdout."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o640)


def last_lines(path: Path, count: int = 40) -> list[str]:
    """The last ``count`` lines of ``path`` (from its last 64 KiB), secrets redacted; [] if none."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > TAIL_BYTES and lines:
        lines = lines[1:]  # the first line was cut by the seek
    return [redact_secrets(line) for line in lines[-count:]]
