"""What the dashboard's partials render: one instance row, its action buttons.

The page renders these server-side and the same partials, rendered once with a blank row
inside ``<template>`` elements, are what the page's JS clones for live updates: the DOM
structure lives only in the partials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.urls import reverse

from console.jobs.service import HOST_KINDS, STARTS_FROM
from console.models import Instance, InstanceState, JobKind
from console.web.labels import gpus_text, state_label


@dataclass(frozen=True)
class ActionButton:
    """A button that POSTs ``body`` to ``/api/instances/<id>/<action>/``.

    ``when`` lists the states the job can start from (the job service's own table), so the
    page enables exactly the buttons the API would accept.
    """

    label: str
    action: str
    body: str
    when: tuple[str, ...]

    @property
    def when_attr(self) -> str:
        return " ".join(self.when)

    def enabled_in(self, state: str) -> bool:
        return state in self.when


def _states(kind: JobKind) -> tuple[str, ...]:
    return tuple(sorted(str(state) for state in STARTS_FROM[kind]))


ACTIONS: tuple[ActionButton, ...] = (
    ActionButton("Sleep L1", "sleep", '{"level": 1}', _states(JobKind.SLEEP)),
    ActionButton("Sleep L2", "sleep", '{"level": 2}', _states(JobKind.SLEEP)),
    ActionButton("Wake", "wake", "{}", _states(JobKind.WAKE)),
    ActionButton("Switch", "switch", "{}", _states(JobKind.SWITCH)),
    ActionButton("Launch", "launch", "{}", _states(JobKind.LAUNCH)),
    ActionButton("Stop", "stop", "{}", _states(JobKind.STOP)),
)


@dataclass(frozen=True)
class ActionState:
    """One button of one row: the button and whether the row's state allows it now."""

    button: ActionButton
    enabled: bool


@dataclass(frozen=True)
class InstanceRow:
    """An instance as the dashboard shows it (no secrets: built field by field)."""

    id: int
    name: str
    served_model_name: str
    state: str
    sleep_level: int | None
    state_detail: str
    is_demo: bool
    host: str
    gpu_indexes: list[int] = field(default_factory=list)
    state_changed_at: datetime | None = None
    # Registered by URL without a host: no launch spec and no process of the console's,
    # so Launch and Stop could only be refused (the page explains instead).
    launchable: bool = True

    @classmethod
    def of(cls, instance: Instance) -> InstanceRow:
        return cls(
            id=instance.pk,
            name=instance.name,
            served_model_name=instance.served_model_name,
            state=instance.state,
            sleep_level=instance.sleep_level,
            state_detail=instance.state_detail,
            is_demo=instance.is_demo,
            host=instance.host.name if instance.host else "",
            gpu_indexes=[gpu.index for gpu in instance.gpus.all()],
            state_changed_at=instance.state_changed_at,
            launchable=instance.host_id is not None,
        )

    @classmethod
    def blank(cls) -> InstanceRow:
        """The row inside the page's ``<template>``: every element present, no data."""
        return cls(
            id=0, name="", served_model_name="", state="unknown", sleep_level=None,
            state_detail="", is_demo=True, host="",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return reverse("instance", args=[self.id]) if self.id else ""

    @property
    def badge_text(self) -> str:
        return state_label(self.state, self.sleep_level)

    @property
    def error_detail(self) -> str:
        """Why an instance is in error (a failed launch's log lines, an engine gone), shown
        under its badge; other states' details stay in the badge's title."""
        return self.state_detail if self.state == InstanceState.ERROR else ""

    @property
    def gpus_text(self) -> str:
        return gpus_text(self.gpu_indexes)

    @property
    def actions(self) -> list[ActionState]:
        offered = [b for b in ACTIONS if self.launchable or b.action not in HOST_KINDS]
        return [ActionState(button, button.enabled_in(self.state)) for button in offered]


def instance_rows(instances: Iterable[Instance]) -> list[InstanceRow]:
    return [InstanceRow.of(instance) for instance in instances]
