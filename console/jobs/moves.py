"""The jobs' one way to move an instance: a conditional transition, or a refusal that says
which state the instance is really in."""

from __future__ import annotations

from django.utils import timezone

from console.jobs.service import JobRefusedError
from console.models import Instance, InstanceState, transition


def move(
    instance: Instance, expected: set[InstanceState], to: InstanceState, **fields: object
) -> None:
    """Transition or refuse with the state the instance is really in.

    On success the object is brought up to date in memory, as ``transition`` wrote the row
    (no read back: a switch makes four moves on its critical path); its
    ``state_changed_at`` is this process's clock, microseconds from the row's.
    """
    if not transition(instance.pk, expected, to, **fields):
        instance.refresh_from_db(fields=["state"])
        wanted = " or ".join(sorted(expected))
        raise JobRefusedError(f"{instance.name} is {instance.state}, not {wanted}")
    if "pid" in fields:
        fields.setdefault("pinned_baseline_bytes", None)
    fields["sleep_level"] = fields.get("sleep_level") if to == InstanceState.SLEEPING else None
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.state = to
    instance.state_changed_at = timezone.now()
