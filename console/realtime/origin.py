"""Websocket Origin check by scheme, host and port.

Channels' ``AllowedHostsOriginValidator`` compares the Origin's host name with
``ALLOWED_HOSTS`` only: ``http://localhost:9999`` (any local service a browser visits)
passed for a console on ``http://localhost:8000``. Here the Origin must be the console's
own origin (the scheme the socket came in on, or the one the trusted TLS proxy names, and
its ``Host`` header) or one of
``CSRF_TRUSTED_ORIGINS`` (a TLS proxy in front: ``https://console.example.org``), as
Django's CSRF check requires of forms.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.utils.http import is_same_domain

ASGIApp = Any
DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """An origin as browsers compare them: scheme, lower-case host, port (defaults filled)."""

    scheme: str
    host: str
    port: int


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` as an ``Origin``; None for "null", paths, or anything odd."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return Origin(parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme])


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin the page was served from: the socket's scheme and its Host header."""
    scheme = "https" if scope.get("scheme") == "wss" or behind_tls_proxy(scope) else "http"
    host = header(scope, b"host")
    return parse_origin(f"{scheme}://{host}") if host else None


def behind_tls_proxy(scope: dict[str, Any]) -> bool:
    """The trusted proxy's header says the browser used HTTPS (``SECURE_PROXY_SSL_HEADER``,
    read as Django's ``request.is_secure`` reads it)."""
    trusted_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not trusted_header:
        return False
    meta_name, secure_value = trusted_header
    name = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
    value = header(scope, name)
    return value is not None and value.split(",")[0].strip() == secure_value


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin1")
    return None


def trusted(origin: Origin, pattern: str) -> bool:
    """A ``CSRF_TRUSTED_ORIGINS`` entry, read as Django's CSRF check reads it: exact, or
    ``scheme://*.domain[:port]`` for the domain and its subdomains."""
    if "://*" in pattern:
        scheme, domain = pattern.split("://*", 1)
        netloc = origin.host
        if origin.port != DEFAULT_PORTS[origin.scheme]:
            netloc = f"{origin.host}:{origin.port}"
        return origin.scheme == scheme and is_same_domain(netloc, domain)
    return origin == parse_origin(pattern)


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = parse_origin(header(scope, b"origin") or "")
    if origin is None:
        return False
    if origin == own_origin(scope):
        return True
    return any(trusted(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginValidator:
    """Refuse (close before accept) a websocket whose Origin is not the console's own."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
