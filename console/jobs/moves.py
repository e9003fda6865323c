"""The jobs' one way to move an instance: a conditional transition, or a refusal that says
which state the instance is really in."""

from __future__ import annotations

from console.jobs.service import JobRefusedError
from console.models import Instance, InstanceState, transition


def move(
    instance: Instance, expected: set[InstanceState], to: InstanceState, **fields: object
) -> None:
    """Transition or refuse with the state the instance is really in; reloads the row."""
    if not transition(instance.pk, expected, to, **fields):
        instance.refresh_from_db(fields=["state"])
        wanted = " or ".join(sorted(expected))
        raise JobRefusedError(f"{instance.name} is {instance.state}, not {wanted}")
    instance.refresh_from_db()
