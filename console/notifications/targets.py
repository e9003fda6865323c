"""Apprise targets: parse a rule's URL, mask it for showing, send to it.

The URL is a secret: a password (``json://user:pass@host``) or a webhook token
(``slack://TokenA/TokenB/TokenC``). Apprise's privacy mode masks what it knows to be
secret; ``scrub`` also removes from a failure's text every part of the URL the masked
form does not show, so neither the page nor the log ever carries one.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import apprise

# Apprise logs a URL it cannot parse in full, password and all: its records never reach
# the console's log (``delivery`` logs each failure itself, scrubbed).
_APPRISE_LOG = logging.getLogger("apprise")
_APPRISE_LOG.propagate = False
_APPRISE_LOG.addHandler(logging.NullHandler())
_URL_PARTS = re.compile(r"[/:@?&=#]+")
SCRUBBED = "****"


class BadTargetError(ValueError):
    """The URL is not one Apprise can send to; the message says so without echoing it."""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str


def parse(url: str) -> apprise.plugins.NotifyBase:
    plugin = apprise.Apprise.instantiate(url.strip()) if url.strip() else None
    if plugin is None:
        raise BadTargetError(
            "not an Apprise URL this console can send to (for example json://host:port/path, "
            "slack://…, mailto://…); see https://github.com/caronc/apprise/wiki"
        )
    return plugin


def masked(url: str) -> str:
    """What may be shown of the URL: Apprise's privacy form, without its option string."""
    shown = parse(url).url(privacy=True)  # type: ignore[no-untyped-call]
    return str(shown).split("?", 1)[0]


def scrub(text: str, url: str) -> str:
    """``text`` without any part of ``url`` that its masked form hides."""
    shown = set(_URL_PARTS.split(masked(url)))
    secrets = {part for part in _URL_PARTS.split(url.strip()) if len(part) >= 3} - shown
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, SCRUBBED)
    return text


class _ThreadLog(logging.Handler):
    """Apprise's warnings logged by one thread: why its send failed (a status, a refused
    socket), apart from what other worker threads' sends say at the same time."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage())


def send(url: str, title: str, body: str, failure: bool) -> SendResult:
    """One attempt, with why it failed in Apprise's words, scrubbed."""
    target = apprise.Apprise()
    target.add(parse(url))
    kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.INFO
    said = _ThreadLog()
    _APPRISE_LOG.addHandler(said)
    try:
        ok = bool(target.notify(body=body, title=title, notify_type=kind))
    finally:
        _APPRISE_LOG.removeHandler(said)
    error = "" if ok else scrub("\n".join(said.lines) or "the target refused it", url)
    return SendResult(ok, error[:2000])
