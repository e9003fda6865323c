"""Tell every web process at once that inference keys changed.

Each change to a key (issued, revoked, edited, deleted) writes a new random token to one
Redis key once it commits. The gateway reads that token on every request, in the round
trip it makes anyway, and reloads its table before judging a key when the token is not
the one its table was loaded under: a revoked key is refused from the next request on, by
every process, and a wrong key needs no database read to be known wrong.

Changes that bypass the ORM's signals (``QuerySet.update``, raw SQL) are seen at the
table's periodic reload instead, within about a second.
"""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from redis import Redis
from redis.exceptions import RedisError

from console.models.gateway import InferenceKey

log = logging.getLogger(__name__)


def version_key(prefix: str) -> str:
    """String: a random token, replaced whenever a key changes."""
    return f"{prefix}gw:keys-version"


@lru_cache(maxsize=4)
def _redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=5)


def bump() -> None:
    """Make every web process reload its keys before it judges the next one."""
    try:
        _redis(settings.REDIS_URL).set(version_key(settings.REDIS_PREFIX), uuid.uuid4().hex)
    except RedisError as error:
        # The gateway refuses every request while Redis is down; the periodic reload
        # sees the change once it is back.
        log.warning("gateway: could not announce a key change: %s: %s", type(error).__name__, error)


@receiver(post_save, sender=InferenceKey, dispatch_uid="gateway-key-saved")
@receiver(post_delete, sender=InferenceKey, dispatch_uid="gateway-key-deleted")
def on_key_changed(sender: Any, **kwargs: Any) -> None:
    # After the commit: a process that reloads on the new token must read the change.
    transaction.on_commit(bump)
