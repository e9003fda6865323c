"""A Prometheus collector that reads the database at scrape time (the database is the truth).

Registered in its own registry, so the web process's default Python metrics and anything
else imported into it never mix with the console's series.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import Count, Q, QuerySet, Sum
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from console.models import (
    Gpu,
    Host,
    Instance,
    InstanceState,
    Job,
    JobKind,
    JobState,
    MemorySample,
    Resolution,
    Subject,
)
from console.promexport.alerting import alerting_metrics
from console.promexport.usage import usage_metrics

PREFIX = "vllm_console"
JOB_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
ENGINE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ConsoleCollector(Collector):
    """Every series of the console, computed from rows on each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from instance_metrics()
        yield from job_metrics()
        yield from memory_metrics()
        yield from alerting_metrics()
        yield from usage_metrics()


def instance_metrics() -> Iterator[Metric]:
    states = GaugeMetricFamily(
        f"{PREFIX}_instance_state",
        "1 for the state the instance is in.",
        labels=["instance", "state"],
    )
    levels = GaugeMetricFamily(
        f"{PREFIX}_instance_sleep_level", "Sleep level while sleeping, else 0.", labels=["instance"]
    )
    for name, state, level in Instance.objects.values_list("name", "state", "sleep_level"):
        for choice in InstanceState:
            states.add_metric([name, choice.value], 1.0 if state == choice else 0.0)
        levels.add_metric([name], float(level or 0))
    yield states
    yield levels


def job_metrics() -> Iterator[Metric]:
    totals = CounterMetricFamily(
        f"{PREFIX}_jobs", "Jobs by kind and state.", labels=["kind", "state"]
    )
    for row in Job.objects.values("kind", "state").annotate(n=Count("id")).order_by():
        totals.add_metric([row["kind"], row["state"]], float(row["n"]))
    yield totals
    finished = Job.objects.filter(state__in=[JobState.SUCCEEDED, JobState.FAILED])
    yield histogram(
        f"{PREFIX}_job_duration_seconds", "Wall time of finished jobs.", "wall_seconds",
        JOB_BUCKETS, [(kind.value, finished.filter(kind=kind)) for kind in JobKind],
    )  # fmt: skip
    succeeded = Job.objects.filter(state=JobState.SUCCEEDED)
    yield histogram(
        f"{PREFIX}_engine_seconds", "Engine-reported seconds of sleeps and wakes.",
        "engine_seconds", ENGINE_BUCKETS,
        [(kind.value, succeeded.filter(kind=kind)) for kind in (JobKind.SLEEP, JobKind.WAKE)],
    )  # fmt: skip


def histogram(
    name: str, documentation: str, field: str, bounds: Sequence[float],
    groups: Sequence[tuple[str, QuerySet[Job]]],
) -> HistogramMetricFamily:  # fmt: skip
    """One histogram per kind, its cumulative buckets counted in a single query each."""
    family = HistogramMetricFamily(name, documentation, labels=["kind"])
    for kind, rows in groups:
        aggregates = {
            f"le{i}": Count("id", filter=Q(**{f"{field}__lte": b})) for i, b in enumerate(bounds)
        }
        figures = rows.filter(**{f"{field}__isnull": False}).aggregate(
            total=Count("id"), sum=Sum(field), **aggregates
        )
        buckets = [(str(b), float(figures[f"le{i}"])) for i, b in enumerate(bounds)]
        buckets.append(("+Inf", float(figures["total"])))
        family.add_metric([kind], buckets, float(figures["sum"] or 0.0))
    return family


def _latest(subject: Subject, **key: int) -> MemorySample | None:
    return (
        MemorySample.objects.filter(subject=subject, resolution=Resolution.RAW, **key)
        .order_by("-at")
        .first()
    )


def memory_metrics() -> Iterator[Metric]:
    gpu_used = GaugeMetricFamily(
        f"{PREFIX}_gpu_used_bytes", "GPU memory in use.", labels=["host", "gpu"]
    )
    gpu_total = GaugeMetricFamily(
        f"{PREFIX}_gpu_total_bytes", "GPU memory.", labels=["host", "gpu"]
    )
    for gpu in Gpu.objects.select_related("host"):
        sample = _latest(Subject.GPU, gpu_id=gpu.pk)
        labels = [gpu.host.name, str(gpu.index)]
        gpu_total.add_metric(labels, float(gpu.total_bytes))
        if sample is not None:
            gpu_used.add_metric(labels, float(sample.used_bytes))
    host_used = GaugeMetricFamily(f"{PREFIX}_host_used_bytes", "Host RAM in use.", labels=["host"])
    host_total = GaugeMetricFamily(f"{PREFIX}_host_total_bytes", "Host RAM.", labels=["host"])
    for host in Host.objects.all():
        sample = _latest(Subject.HOST, host_id=host.pk)
        if sample is not None:
            host_used.add_metric([host.name], float(sample.used_bytes))
            host_total.add_metric([host.name], float(sample.total_bytes or 0))
    yield from (gpu_used, gpu_total, host_used, host_total)


def console_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsoleCollector())
    return registry
