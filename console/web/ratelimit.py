"""Login rate limit: at most ``LIMIT`` failed sign-ins per username and address per window.

The audit log already holds every attempt (``user.login``, refused or ok, with the
username tried and the peer address), so it is the counter: shared by every web process,
kept across restarts, and impossible to reset by anyone but a successful sign-in.
Attempts are counted under the name Django signs in (``login_name``), so a look-alike
spelling (a fullwidth letter, padding) counts for, and is throttled as, ``viewer1``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.forms import UsernameField
from django.db.models import Max
from django.utils import timezone

from console.models import AuditEntry, Outcome

LOGIN_ACTION = "user.login"
LIMIT = 10
WINDOW = timedelta(minutes=5)
THROTTLED_MESSAGE = (
    f"Too many failed sign-ins for this user from your address: wait "
    f"{int(WINDOW.total_seconds() // 60)} minutes and try again."
)


def login_name(raw: object) -> str:
    """The username as Django's login form authenticates it: stripped, NFKC-normalised."""
    return str(UsernameField().to_python(str(raw or "")))[:150]


def recent_failures(username: str, remote_addr: str | None, now: datetime) -> int:
    """Failed sign-ins of ``username`` from ``remote_addr`` in the window, since a success."""
    attempts = AuditEntry.objects.filter(
        action=LOGIN_ACTION, username=username, remote_addr=remote_addr, at__gte=now - WINDOW
    )
    last_ok = attempts.filter(outcome=Outcome.OK).aggregate(last=Max("at"))["last"]
    failures = attempts.filter(outcome=Outcome.REFUSED)
    if last_ok is not None:
        failures = failures.filter(at__gt=last_ok)
    return failures.count()


def login_throttled(username: str, remote_addr: str | None, now: datetime | None = None) -> bool:
    """True when this username, from this address, must wait before trying again."""
    return recent_failures(username, remote_addr, now or timezone.now()) >= LIMIT
