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

from engines.launcher.spec import REDACTED, redact_command

KEEP_ROTATED = 3
TAIL_BYTES = 64 * 1024

# vLLM's "non-default args: {...}" startup line (vllm 0.11.0 entrypoints/utils.py:233) and
# the "args: Namespace(...)" line of earlier versions print the values of --api-key and
# --hf-token under their dest names, however the flags were spelt; error reports must not
# carry them, nor those of any other argument named like a secret.
_SECRET_DEST = r"\w*(?:token|key|secret|password)"
_QUOTED_OR_LIST = r"\[[^\]]*\]|'[^']*'|" + r'"[^"]*"'
_SECRET_ITEM_RE = re.compile(rf"""((['"]){_SECRET_DEST}\2: )({_QUOTED_OR_LIST})""")
_SECRET_KEYWORD_RE = re.compile(rf"""(\b{_SECRET_DEST}=)({_QUOTED_OR_LIST})""")
_WORDS_RE = re.compile(r"(\s+)")


def redact_secrets(line: str) -> str:
    """``line`` with every secret argument's value replaced by ``***``.

    Covers vLLM's dumps of its parsed arguments and command lines echoed in a line (an
    argparse usage error quotes them), with the flags read as vLLM reads them
    (``--api-k S`` is ``--api-key S``).
    """
    line = _SECRET_ITEM_RE.sub(rf"\1'{REDACTED}'", line)
    line = _SECRET_KEYWORD_RE.sub(rf"\1'{REDACTED}'", line)
    if "--" not in line:
        return line
    parts = _WORDS_RE.split(line)
    words = redact_command(parts[0::2])
    parts[0::2] = words
    return "".join(parts)


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
