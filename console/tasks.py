"""Celery tasks: thin adapters that take ids and call plain functions (console.jobs)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from console.gateway.history import record as gateway_record
from console.history import rollup
from console.jobs import evidence, idle, reconcile, runner


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(self: Any, job_id: int) -> None:
    runner.run(job_id, str(self.request.id))


@shared_task(ignore_result=True)
def attach_job_evidence(job_id: int) -> None:
    """After a job ended: its engine calls' log lines and samples, added to it."""
    evidence.attach(job_id)


@shared_task(ignore_result=True, expires=10)
def reconcile_instances() -> None:
    reconcile.fail_stuck_jobs(runner.TIME_LIMITS)
    reconcile.reconcile_all()


@shared_task(ignore_result=True, expires=30)
def reconcile_instance(instance_id: int) -> None:
    """Probe an instance registered or re-addressed at once, not at the next round."""
    reconcile.reconcile_one(instance_id)


@shared_task(ignore_result=True, expires=10)
def gateway_idle_policy() -> None:
    """Put instances nobody sent a request to for their T1/T2 to sleep."""
    idle.run_idle_policy()


@shared_task(ignore_result=True, expires=120)
def history_rollup() -> None:
    """Roll samples up to minutes and hours, then apply retention."""
    rollup.maintain(timezone.now())


@shared_task(ignore_result=True, expires=120)
def gateway_history() -> None:
    """Store the gateway's per-model counts of the last minute."""
    gateway_record(timezone.now())
