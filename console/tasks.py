"""Celery tasks: thin adapters that take ids and call plain functions (console.jobs)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import task_prerun
from django.utils import timezone

from console import critical
from console.gateway.history import record as gateway_record
from console.gateway.usage_store import drain as drain_key_usage
from console.history import rollup
from console.jobs import evidence, idle, reconcile, runner, schedule_policy
from console.notifications import delivery, watch


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(self: Any, job_id: int) -> None:
    runner.run(job_id, str(self.request.id))


@task_prerun.connect(dispatch_uid="background-tasks-give-way")
def give_way_to_jobs(sender: Any = None, task: Any = None, **kwargs: Any) -> None:
    """Where one worker takes both queues (the tests'; ``up`` and compose run one per
    queue), every other task (evidence, reconcile, alerts, rollups) starts once no job of
    this worker is on its critical path (at most ``critical.PATIENCE_SECONDS`` later): it
    shares the worker's interpreter with the job's thread."""
    if getattr(task, "name", None) != run_job.name:
        critical.give_way()


@shared_task(ignore_result=True)
def attach_job_evidence(job_id: int) -> None:
    """After a job ended: its engine calls' log lines and samples, added to it."""
    evidence.attach(job_id)
    watch.slow_wakes(job_id)


@shared_task(ignore_result=True, expires=10)
def reconcile_instances() -> None:
    reconcile.fail_stuck_jobs(runner.TIME_LIMITS)
    reconcile.reconcile_all()
    watch.offline_hosts(timezone.now())


@shared_task(ignore_result=True, expires=30)
def reconcile_instance(instance_id: int) -> None:
    """Probe an instance registered or re-addressed at once, not at the next round."""
    reconcile.reconcile_one(instance_id)


@shared_task(ignore_result=True, expires=10)
def gateway_idle_policy() -> None:
    """Put instances nobody sent a request to for their T1/T2 to sleep."""
    idle.run_idle_policy()


@shared_task(ignore_result=True, expires=40)
def instance_schedules() -> None:
    """Wake instances whose awake window starts, put to sleep those whose timed sleep is due."""
    schedule_policy.run_schedules(timezone.now())


@shared_task(ignore_result=True, expires=120)
def history_rollup() -> None:
    """Roll samples up to minutes and hours, then apply retention."""
    rollup.maintain(timezone.now())


@shared_task(ignore_result=True, expires=120)
def gateway_history() -> None:
    """Store the gateway's per-model counts of the last minute."""
    gateway_record(timezone.now())


@shared_task(ignore_result=True)
def fan_out_alert(kind: str, summary: str, details: dict[str, Any]) -> None:
    """An event raised by ``alert``: a delivery per rule that wants it, each sent apart."""
    for delivery_id in delivery.fan_out(kind, summary, details):
        deliver_alert.delay(delivery_id)


@shared_task(bind=True, ignore_result=True, acks_late=True, max_retries=None)
def deliver_alert(self: Any, delivery_id: int) -> None:
    """One attempt; a failed one is retried later while ``CONSOLE_ALERT_ATTEMPTS`` last."""
    if delivery.attempt(delivery_id) == delivery.Attempt.RETRY:
        raise self.retry(countdown=delivery.backoff_seconds(self.request.retries))


@shared_task(ignore_result=True, expires=120)
def key_usage() -> None:
    """Move the gateway's per-key usage counts from Redis to the database."""
    drain_key_usage()
