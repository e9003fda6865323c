"""Instance state changes pushed to every web process, so held requests go the moment
their engine is awake.

Each state change is published on one Redis pub/sub channel once its transaction commits
(``instance_state_changed`` is sent by ``console.models.transition``); each web process's
runtime listens and patches its route table at once, instead of finding the change at its
next database refresh. The refresh stays as the safety net for a message lost while a
listener reconnects.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from redis.exceptions import RedisError

from console.gates.drain import sync_redis
from console.models import Instance, InstanceState
from console.models.signals import instance_state_changed

log = logging.getLogger(__name__)


def channel(prefix: str) -> str:
    """The pub/sub channel of instance state changes."""
    return f"{prefix}gw:changed"


@dataclass(frozen=True)
class StateChange:
    """An instance's new state, as the route table needs it."""

    instance_id: int
    state: str
    state_changed_at: datetime
    detail: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.instance_id,
                "state": self.state,
                "at": self.state_changed_at.isoformat(),
                "detail": self.detail,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> StateChange:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            int(data["id"]),
            str(data["state"]),
            datetime.fromisoformat(data["at"]),
            str(data.get("detail") or ""),
        )


def publish_change(change: StateChange) -> None:
    """Publish a committed state change; a Redis failure only delays the gateway until
    its next refresh."""
    try:
        sync_redis(settings.REDIS_URL).publish(channel(settings.REDIS_PREFIX), change.to_json())
    except RedisError as error:
        log.warning("could not push instance %s's state to the gateway: %r", change.instance_id,
                    error)  # fmt: skip


def _with_detail(instance_id: int, state: str, changed_at: datetime) -> StateChange:
    detail = Instance.objects.filter(pk=instance_id).values_list("state_detail", flat=True).first()
    return StateChange(instance_id, state, changed_at, detail or "")


@receiver(instance_state_changed, dispatch_uid="gateway-push-state")
def on_instance_state_changed(
    sender: Any,
    instance_id: int,
    state: str,
    changed_at: datetime,
    detail: str | None = None,
    **kwargs: Any,
) -> None:
    """Pushed once committed. The gateway quotes the detail only for a failed engine: it is
    read from the row only for a move to error that did not give it."""

    def push() -> None:
        if detail is None and state == InstanceState.ERROR:
            change = _with_detail(instance_id, state, changed_at)
        else:
            change = StateChange(instance_id, state, changed_at, detail or "")
        publish_change(change)

    transaction.on_commit(push)
