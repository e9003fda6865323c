"""vLLM engines the console knows, their lifecycle state and its transition table."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from console.models.hosts import Gpu, Host
from console.models.signals import instance_state_changed
from console.models.transitions import check_allowed, conditional_update
from console.models.validators import (
    validate_base_url,
    validate_string_list,
    validate_string_map,
)


class InstanceState(models.TextChoices):
    """Where an engine is in its life; see ``Instance`` for the moves between states."""

    STOPPED = "stopped"
    STARTING = "starting"
    AWAKE = "awake"
    FALLING_ASLEEP = "falling_asleep"
    SLEEPING = "sleeping"
    WAKING = "waking"
    STOPPING = "stopping"
    ERROR = "error"
    UNKNOWN = "unknown"


S = InstanceState

_OPERATIONS: set[tuple[str, str]] = {
    (S.STOPPED, S.STARTING),
    (S.STARTING, S.AWAKE),
    (S.AWAKE, S.FALLING_ASLEEP),
    (S.FALLING_ASLEEP, S.SLEEPING),
    # A sleep call that failed while the engine stayed awake.
    (S.FALLING_ASLEEP, S.AWAKE),
    (S.SLEEPING, S.WAKING),
    (S.WAKING, S.AWAKE),
    # A wake refused for memory (vLLM OOM on wake) leaves the engine asleep.
    (S.WAKING, S.SLEEPING),
    (S.STOPPING, S.STOPPED),
}
_STOPPABLE = (S.STARTING, S.AWAKE, S.SLEEPING, S.ERROR, S.UNKNOWN)
_FAILURES = {
    (state, failure) for failure in (S.ERROR, S.UNKNOWN) for state in S if state != failure
}
# The engine is the truth about itself: reconcile may put a row that lost track (error,
# unknown) or disagrees with /is_sleeping (awake <-> sleeping) back where the engine is.
_CORRECTIONS = {
    (source, observed)
    for source in (S.ERROR, S.UNKNOWN)
    for observed in (S.AWAKE, S.SLEEPING, S.STOPPED, S.STARTING)
    if source != observed
} | {(S.AWAKE, S.SLEEPING), (S.SLEEPING, S.AWAKE)}
# An engine found answering at a stopped instance's URL (one registered by URL,
# adopted rather than launched) is taken as it is.
_CORRECTIONS |= {(S.STOPPED, S.AWAKE), (S.STOPPED, S.SLEEPING)}

TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    _OPERATIONS | {(state, S.STOPPING) for state in _STOPPABLE} | _FAILURES | _CORRECTIONS
)


class Instance(models.Model):
    """One vLLM server (or emulator) that the console sleeps, wakes, launches and stops.

    States (``InstanceState``) and the allowed moves (``TRANSITIONS``):

    - stopped -> starting -> awake (launch); any of starting, awake, sleeping, error,
      unknown -> stopping -> stopped (stop);
    - awake -> falling_asleep -> sleeping (sleep), falling_asleep -> awake when it failed;
    - sleeping -> waking -> awake (wake), waking -> sleeping when the wake was refused;
    - any state -> error or unknown (``state_detail`` says why);
    - error/unknown -> awake, sleeping, stopped or starting, and awake <-> sleeping: the
      reconcile loop correcting the row to what the engine reports; stopped -> awake or
      sleeping: an engine found answering at its URL (adopted).

    ``sleep_level`` is set exactly while sleeping (a database constraint holds it).
    ``api_key`` and ``launch_env`` are secrets: write-only in the API, never logged.
    """

    name = models.SlugField(max_length=100, unique=True)
    served_model_name = models.CharField(max_length=200)
    base_url = models.CharField(max_length=255, validators=[validate_base_url])
    api_key = models.CharField(max_length=255, blank=True)
    host = models.ForeignKey(
        Host, on_delete=models.SET_NULL, null=True, blank=True, related_name="instances"
    )
    gpus = models.ManyToManyField(Gpu, blank=True, related_name="instances")
    launch_executable = models.CharField(max_length=255, default="vllm")
    launch_model = models.CharField(max_length=255, blank=True)
    launch_args = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    launch_env = models.JSONField(default=dict, blank=True, validators=[validate_string_map])
    gpu_memory_utilization = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01), MaxValueValidator(1.0)],
    )
    expected_weights_gib = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)]
    )
    expected_kv_cache_gib = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)]
    )
    vllm_version = models.CharField(max_length=50, blank=True)
    state = models.CharField(max_length=20, choices=InstanceState, default=InstanceState.STOPPED)
    sleep_level = models.PositiveSmallIntegerField(null=True, blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(null=True, blank=True)
    state_detail = models.TextField(blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    # The engine's RSS just before its first level-1 sleep: what the process holds above it
    # is its pinned weight backup, which PyTorch keeps after the wake. A new process (a
    # launch, a stop, a death: any change of ``pid``) starts without one.
    pinned_baseline_bytes = models.BigIntegerField(null=True, blank=True)
    # Pinned host RAM its level-1 backup took, measured (RSS growth) at its last level-1
    # sleep; the same model and arguments pin the same again after a relaunch.
    pinned_backup_bytes = models.BigIntegerField(null=True, blank=True)
    log_path = models.CharField(max_length=500, blank=True)
    is_demo = models.BooleanField(default=False)
    idle_sleep_l1_seconds = models.PositiveIntegerField(null=True, blank=True)
    idle_sleep_l2_seconds = models.PositiveIntegerField(null=True, blank=True)
    pinned_awake = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints = (
            models.CheckConstraint(
                condition=(Q(state=InstanceState.SLEEPING) & Q(sleep_level__in=[1, 2]))
                | (~Q(state=InstanceState.SLEEPING) & Q(sleep_level__isnull=True)),
                name="instance_sleep_level_only_when_sleeping",
            ),
        )

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)


def transition(
    instance_id: int, expected: Collection[InstanceState], to: InstanceState, **fields: Any
) -> bool:
    """Move the instance to ``to`` if it is in one of ``expected``; True when this call did.

    Raises ``IllegalTransitionError`` for a move outside ``TRANSITIONS``. ``sleep_level`` is
    required when going to sleeping and cleared otherwise; other ``fields`` are written in
    the same UPDATE (``state_detail``, ``pid``, ``last_seen``...).
    """
    check_allowed(TRANSITIONS, expected, to, "instance")
    if to == InstanceState.SLEEPING:
        if fields.get("sleep_level") not in {1, 2}:
            raise ValueError("going to sleeping needs sleep_level=1 or 2")
    else:
        fields["sleep_level"] = None
    if "pid" in fields:
        fields.setdefault("pinned_baseline_bytes", None)
    changed_at = timezone.now()
    moved = conditional_update(
        Instance, instance_id, expected, state=to, state_changed_at=changed_at, **fields
    )
    if moved:  # Pages (realtime.notify) and the gateway (gates.changes) hear of every move.
        instance_state_changed.send(
            sender=Instance, instance_id=instance_id, state=to, changed_at=changed_at,
            detail=fields.get("state_detail"),
        )  # fmt: skip
    return moved
