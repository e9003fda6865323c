"""The snapshot sent first on every connection: the whole picture, read from the database."""

from __future__ import annotations

from django.db.models import QuerySet

from console.models import Gpu, Host, Instance, Job
from console.realtime import payloads
from console.realtime.messages import Snapshot

RECENT_JOBS = 20


def build_snapshot(instance_id: int | None = None) -> Snapshot:
    """Every host, GPU, instance and the recent jobs; or only those of one instance."""
    hosts: QuerySet[Host] = Host.objects.all()
    gpus: QuerySet[Gpu] = Gpu.objects.select_related("host")
    instances: QuerySet[Instance] = Instance.objects.select_related("host").prefetch_related("gpus")
    jobs: QuerySet[Job] = Job.objects.select_related("requested_by")
    if instance_id is not None:
        instances = instances.filter(pk=instance_id)
        gpus = gpus.filter(instances=instance_id)
        hosts = hosts.filter(instances=instance_id)
        jobs = jobs.filter(instance_id=instance_id)
    return {
        "type": "snapshot",
        "hosts": [payloads.host_payload(host) for host in hosts],
        "gpus": [payloads.gpu_payload(gpu) for gpu in gpus],
        "instances": [payloads.instance_payload(instance) for instance in instances],
        "jobs": [payloads.job_update(job) for job in jobs[:RECENT_JOBS]],
    }
