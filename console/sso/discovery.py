"""The provider's endpoints from its discovery document, when ``CONSOLE_OIDC_ISSUER`` is set.

Read at the first sign-on that needs them, not when the settings load: the web process,
the workers and the agents all load the same settings, and each must start (and password
sign-in keep working) while the provider is unreachable. A document read is kept for an
hour; a failure is not kept, so the next "Sign in with" tries again. An endpoint set by its
own variable (``CONSOLE_OIDC_TOKEN_URL``...) wins over the document's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from console.sso.config import OidcConfig

DOCUMENT_PATH = "/.well-known/openid-configuration"
# The console's endpoint names and the document's (OpenID Connect Discovery 1.0, 3).
FIELDS = {
    "authorization": "authorization_endpoint",
    "token": "token_endpoint",
    "userinfo": "userinfo_endpoint",
    "jwks": "jwks_uri",
}
KEEP_SECONDS = 3600.0
TIMEOUT_SECONDS = 10.0
MAX_DOCUMENT_BYTES = 256 * 1024

_lock = threading.Lock()
_documents: dict[str, tuple[float, dict[str, str]]] = {}


class DiscoveryError(Exception):
    """The document could not be read or does not say what the console needs (says why)."""


def document_url(issuer: str) -> str:
    return issuer.rstrip("/") + DOCUMENT_PATH


def endpoints(config: OidcConfig) -> dict[str, str]:
    """Every endpoint the sign-on needs: set ones as set, the rest from the document."""
    explicit = {name: url for name, url in config.endpoints.items() if url}
    if set(FIELDS) <= set(explicit):
        return explicit
    if config.issuer is None:  # config.oidc_config refuses this; kept loud all the same
        missing = sorted(set(FIELDS) - set(explicit))
        raise DiscoveryError(f"no issuer to discover the {', '.join(missing)} endpoint(s) from")
    return {**discovered(config.issuer), **explicit}


def discovered(issuer: str) -> dict[str, str]:
    now = time.monotonic()
    with _lock:
        kept = _documents.get(issuer)
    if kept is not None and now - kept[0] < KEEP_SECONDS:
        return kept[1]
    found = read_endpoints(issuer, fetch(issuer))
    with _lock:
        _documents[issuer] = (now, found)
    return found


def fetch(issuer: str) -> Any:
    url = document_url(issuer)
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as error:
        raise DiscoveryError(f"{url} could not be read: {error}") from error
    if response.status_code != 200:
        raise DiscoveryError(f"{url} answered {response.status_code}, not the provider's "
                             "configuration: check CONSOLE_OIDC_ISSUER")  # fmt: skip
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise DiscoveryError(f"{url} sent {len(response.content)} bytes, more than any "
                             "provider's configuration")  # fmt: skip
    try:
        return response.json()
    except ValueError as error:
        raise DiscoveryError(f"{url} did not answer JSON") from error


def read_endpoints(issuer: str, document: Any) -> dict[str, str]:
    """The four endpoints of a discovery document, which must name ``issuer`` as its own
    (a trailing slash aside): a document that names another is refused, as the
    specification asks, since its tokens would be another provider's."""
    url = document_url(issuer)
    if not isinstance(document, Mapping):
        raise DiscoveryError(f"{url} is not a JSON object")
    named = document.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(f"{url} names the issuer {str(named)[:200]!r}, "
                             f"not {issuer!r}: check CONSOLE_OIDC_ISSUER")  # fmt: skip
    found: dict[str, str] = {}
    for name, field in FIELDS.items():
        value = document.get(field)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise DiscoveryError(f"{url} gives no URL for {field}")
        found[name] = value
    return found
