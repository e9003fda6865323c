"""The data dir is private to the user running the console.

It holds the SQLite database (users, password hashes, sessions, engine API keys), the
secret key, the embedded Redis' socket and dump, and the logs. Every console process
creates files readable by its user only (umask 077, inherited by everything ``manage.py
up`` starts: Redis, workers, the agent and its engines), and at each start the dir is
made 0700 and what an older console left in it loses its group and other bits.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from console.env import ConfigError

PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700


def secure_data_dir(path: Path) -> None:
    """Create ``path`` (0700) if needed, make new files private, and fix older ones."""
    os.umask(PRIVATE_UMASK)
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR)
    except OSError as error:
        raise ConfigError(
            f"CONSOLE_DATA_DIR={path} cannot be created or made private: {error.strerror}"
        ) from None
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            make_private(Path(root) / name)


def make_private(path: Path) -> None:
    """Drop the group and other permission bits of one file or dir (links left alone)."""
    try:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            path.chmod(stat.S_IMODE(mode) & ~0o077)
    except FileNotFoundError:
        pass  # removed meanwhile by another process (a test database, a rotated log)
    except PermissionError:
        pass  # another user's file: not one the console wrote
