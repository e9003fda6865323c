"""Which queue each task goes to: jobs to ``control`` (or their host), the rest apart.

``manage.py up`` and compose run a worker per queue (test_up, test_deployment), so a task
routed to ``background`` never waits for, or takes, a thread a job's critical path needs.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from console import tasks
from console.celery import app
from console.jobs.runner import EVIDENCE_TASK
from console.notifications.alerts import DELIVER_TASK


def queue_of(name: str, **options: Any) -> str:
    return str(app.amqp.router.route(dict(options), name)["queue"].name)


def console_tasks() -> list[str]:
    return sorted(name for name in app.tasks if name.startswith("console.tasks."))


def test_every_task_but_jobs_goes_to_the_background_queue() -> None:
    names = console_tasks()
    assert {tasks.run_job.name, EVIDENCE_TASK, DELIVER_TASK} <= set(names)
    routed = {name: queue_of(name) for name in names}
    assert routed.pop(tasks.run_job.name) == "control"
    assert set(routed.values()) == {"background"}, routed


def test_a_job_sent_to_its_gpu_host_goes_there() -> None:
    assert queue_of(tasks.run_job.name, queue="host.gpu1") == "host.gpu1"


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_periodic_tasks_go_to_the_background_queue(entry: str) -> None:
    scheduled: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE[entry]
    assert queue_of(scheduled["task"], **scheduled.get("options", {})) == "background"
