"""Environment-driven settings: small typed readers that fail loudly on a bad value.

Every reader takes the variable's name and a default, and raises ``ConfigError`` with a
one-line message naming the variable and the value when the text cannot be parsed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting's value cannot be used; the message is meant to be printed alone."""


@dataclass(frozen=True)
class Env:
    """A view of the environment (``os.environ`` unless a test passes a dict)."""

    values: Mapping[str, str]

    @classmethod
    def from_os(cls) -> Env:
        return cls(os.environ)

    def string(self, name: str, default: str) -> str:
        return self.values.get(name, default)

    def optional(self, name: str) -> str | None:
        value = self.values.get(name, "").strip()
        return value or None

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        raw = self.values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
        return value

    def strings(self, name: str, default: list[str]) -> list[str]:
        raw = self.values.get(name)
        if raw is None:
            return default
        return [item.strip() for item in raw.split(",") if item.strip()]

    def path(self, name: str, default: Path) -> Path:
        raw = self.optional(name)
        return Path(raw).expanduser().resolve() if raw else default


_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
}


def _redacted(url: str) -> str:
    """The URL with its password replaced, so an error message never prints a secret."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def parse_database_url(url: str, *, setting: str = "DATABASE_URL") -> dict[str, Any]:
    """Turn ``sqlite:///path`` or ``postgres://user:pw@host:port/name?opt=v`` into DATABASES."""
    parts = urlsplit(url)
    shown = _redacted(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        known = ", ".join(sorted(_ENGINES))
        raise ConfigError(
            f"{setting}={shown!r}: unknown scheme {parts.scheme!r} (use one of {known})"
        )
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////abs/path.db, as dj-database-url reads them.
        name = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not name:
            raise ConfigError(f"{setting}={shown!r}: no database file (sqlite:////abs/path.db)")
        return {"ENGINE": engine, "NAME": name}
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError(f"{setting}={shown!r}: no database name (postgres://user@host:5432/name)")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{setting}={shown!r}: the port is not a number") from None
    return {
        "ENGINE": engine,
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
