"""Publish what changed in the database: the sync side used by tasks, the agent, signals.

Every publication of a row waits for the transaction that made the change to commit
(``on_commit`` runs at once outside a transaction), so a page never sees a state that
a rollback then takes back, and the payload is read from the committed row, by the
publisher's background thread: the job or agent that made the change does not wait. The agent
builds its tick's events here and publishes them together at the end of the tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from console.models import EngineEvent, Host, Instance, Job, MemorySample, Subject
from console.models.signals import instance_state_changed, job_state_changed
from console.realtime import payloads
from console.realtime.messages import Event
from console.realtime.publisher import publish, submit
from engines.launcher.logfiles import redact_secrets


def instance_changed(instance_id: int) -> None:
    transaction.on_commit(lambda: submit(lambda: _instance_events(instance_id)))


def _instance_events(instance_id: int) -> list[Event]:
    row = Instance.objects.filter(pk=instance_id).first()
    return [payloads.instance_state(row)] if row is not None else []


def job_changed(job_id: int) -> None:
    transaction.on_commit(lambda: submit(lambda: _job_events(job_id)))


def _job_events(job_id: int) -> list[Event]:
    row = Job.objects.filter(pk=job_id).first()
    return [payloads.job_update(row)] if row is not None else []


@receiver(instance_state_changed, dispatch_uid="realtime-instance-state")
def on_instance_state_changed(sender: Any, instance_id: int, **kwargs: Any) -> None:
    instance_changed(instance_id)


@receiver(post_save, sender=Instance, dispatch_uid="realtime-instance-created")
def on_instance_saved(sender: Any, instance: Instance, created: bool, **kwargs: Any) -> None:
    """A new instance (registered through the API or a page) appears on open dashboards."""
    if created:
        instance_changed(instance.pk)


@receiver(job_state_changed, dispatch_uid="realtime-job-state")
def on_job_state_changed(sender: Any, job_id: int, **kwargs: Any) -> None:
    job_changed(job_id)


@receiver(post_save, sender=Job, dispatch_uid="realtime-job-created")
def on_job_saved(sender: Any, instance: Job, created: bool, **kwargs: Any) -> None:
    """A new (queued) job; its later moves are published through ``job_state_changed``."""
    if created:
        job_changed(instance.pk)


@receiver(post_save, sender=EngineEvent, dispatch_uid="realtime-engine-event")
def on_engine_event_saved(sender: Any, instance: EngineEvent, created: bool, **kwargs: Any) -> None:
    """The console's own observations (state corrected, engine died or unreachable); the
    agent's bulk-created log events send no signal and are published by the agent."""
    if created:
        transaction.on_commit(lambda: publish(payloads.engine_event(instance)))


def sample_events(host: Host, rows: Iterable[MemorySample]) -> list[Event]:
    """The gpu.sample and host.sample events of one agent tick's rows (gpu/instance loaded)."""
    rows = list(rows)
    rss = {row.instance.name: row.used_bytes for row in rows if row.subject == Subject.INSTANCE
           and row.instance is not None}  # fmt: skip
    events: list[Event] = []
    for row in rows:
        if row.subject == Subject.GPU and row.gpu is not None:
            events.append(payloads.gpu_sample(host, row.gpu, row))
        elif row.subject == Subject.HOST:
            events.append(payloads.host_sample(host, row, rss))
    return events


def engine_event_messages(rows: Iterable[EngineEvent]) -> list[Event]:
    return [payloads.engine_event(row) for row in rows]


def log_line_events(instance_id: int, lines: Iterable[str]) -> list[Event]:
    # vLLM prints its non-default args at startup, the engine's --api-key among them: viewers
    # watch this tail, so secrets are masked before a line leaves the agent.
    return [payloads.log_line(instance_id, redact_secrets(line)) for line in lines]
