"""Pages beyond the dashboard: one instance, memory history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.utils import timezone
from django.views.generic import DetailView, TemplateView

from console.models import EngineEvent, Gpu, Host, Instance, Job
from console.roles import Action, can
from console.web.event_rows import BLANK_EVENT, EventRow
from console.web.evidence import evidence_lines
from console.web.rows import InstanceRow
from console.web.schedule_text import schedule_form_values
from console.web.views import ConsolePageMixin

if TYPE_CHECKING:
    InstanceDetailView = DetailView[Instance]
else:  # Django's generic views are not subscriptable at run time (django-stubs' are).
    InstanceDetailView = DetailView

RECENT_JOBS = 20
RECENT_EVENTS = 50


class InstanceView(ConsolePageMixin, InstanceDetailView):
    """One instance: live memory, sleep/wake timings, latency, jobs, events, its log."""

    template_name = "instance.html"
    required_action = Action.VIEW
    queryset = Instance.objects.select_related("host").prefetch_related("gpus")
    context_object_name = "instance"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        instance: Instance = self.object
        gpus = list(instance.gpus.all())
        now = timezone.now()
        can_operate = can(self.request.user, Action.SLEEP)
        context.update(
            rows=[InstanceRow.of(instance)],
            blank_row=InstanceRow.blank(),
            blank_job=Job(state=""),
            blank_event=BLANK_EVENT,
            can_operate=can_operate,
            neighbours=gpu_neighbours(instance, gpus) if can_operate else [],
            evidence=evidence_lines(instance),
            idle=kwargs.get("idle_values") or idle_values(instance),
            idle_errors=kwargs.get("idle_errors", {}),
            schedule=kwargs.get("schedule_values") or schedule_form_values(instance, now),
            schedule_errors=kwargs.get("schedule_errors", {}),
            jobs=Job.objects.filter(instance=instance).select_related("requested_by")[:RECENT_JOBS],
            events=[
                EventRow.of(event)
                for event in EngineEvent.objects.filter(instance=instance)[:RECENT_EVENTS]
            ],
            page_config={
                "instance_id": instance.pk,
                "name": instance.name,
                "gpu_ids": [gpu.pk for gpu in gpus],
                "host_id": instance.host_id,
                "socket": f"/ws/instances/{instance.pk}/",
            },
        )
        return context


def gpu_neighbours(instance: Instance, gpus: list[Gpu]) -> list[Instance]:
    """The other instances on its GPUs: those a switch to it may put to sleep."""
    others = Instance.objects.filter(gpus__in=gpus).exclude(pk=instance.pk)
    return list(others.distinct().order_by("name"))


def idle_values(instance: Instance) -> dict[str, Any]:
    """The idle ladder as the instance page's form shows it."""
    return {
        "idle_sleep_l1_seconds": instance.idle_sleep_l1_seconds,
        "idle_sleep_l2_seconds": instance.idle_sleep_l2_seconds,
        "pinned_awake": instance.pinned_awake,
    }


@dataclass(frozen=True)
class Range:
    """A span of history the history page offers."""

    key: str
    label: str
    span: timedelta


RANGES: tuple[Range, ...] = (
    Range("1h", "last hour", timedelta(hours=1)),
    Range("6h", "last 6 hours", timedelta(hours=6)),
    Range("24h", "last 24 hours", timedelta(days=1)),
    Range("7d", "last 7 days", timedelta(days=7)),
    Range("30d", "last 30 days", timedelta(days=30)),
    Range("90d", "last 90 days", timedelta(days=90)),
)
RANGE_BY_KEY = {span.key: span for span in RANGES}


@dataclass(frozen=True)
class Choice:
    """Something the history page can chart: a GPU, a host or an instance."""

    subject: str
    id: int
    label: str

    @property
    def value(self) -> str:
        return f"{self.subject}:{self.id}"


def subject_choices() -> list[Choice]:
    gpus = Gpu.objects.select_related("host")
    return [
        *(Choice("gpu", gpu.pk, f"GPU {gpu.host.name}:{gpu.index}") for gpu in gpus),
        *(Choice("host", host.pk, f"Host {host.name} RAM") for host in Host.objects.all()),
        *(Choice("instance", i.pk, f"Instance {i.name}") for i in Instance.objects.all()),
    ]


def _selected(request: HttpRequest, choices: list[Choice]) -> Choice | None:
    wanted = request.GET.get("subject", "")
    return next((c for c in choices if c.value == wanted), choices[0] if choices else None)


def history_links(choice: Choice, start: datetime, end: datetime) -> dict[str, str]:
    """The history API's URLs for ``choice`` over [start, end] (JSON; CSV adds a format):
    the gateway's figures are an instance's model's, else every model's."""
    span = {"start": start.isoformat(), "end": end.isoformat()}
    memory = urlencode({"subject": choice.subject, "id": choice.id, **span})
    links = {"memory": f"/api/history/memory/?{memory}"}
    gateway = span
    if choice.subject == "instance":
        query = urlencode({"instance": choice.id, **span})
        links["timings"] = f"/api/history/timings/?{query}"
        links["latency"] = f"/api/history/latency/?{query}"
        model = Instance.objects.filter(pk=choice.id).values_list("served_model_name", flat=True)
        gateway = {"model": model.first() or "", **span}
    links["gateway"] = f"/api/history/gateway/?{urlencode(gateway)}"
    return links


def gateway_caption(choice: Choice | None, span: Range) -> str:
    served = "its model" if choice and choice.subject == "instance" else "every model"
    figures = "requests, errors, held requests and seconds held, wakes on request"
    return f"Gateway, {served}, {span.label}: {figures}"


CSV_LABELS = {
    "memory": "Memory samples",
    "timings": "Sleep and wake timings",
    "latency": "Request latency",
    "gateway": "Gateway requests",
}


class HistoryView(ConsolePageMixin, TemplateView):
    """Memory of a GPU, host or instance (an instance's timings and latency too) over any
    range from an hour to 90 days, with CSV downloads."""

    template_name = "history.html"
    required_action = Action.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        choices = subject_choices()
        choice = _selected(self.request, choices)
        span = RANGE_BY_KEY.get(self.request.GET.get("range", ""), RANGES[0])
        end = timezone.now()
        start = end - span.span
        links = history_links(choice, start, end) if choice else {}
        context.update(
            choices=choices,
            choice=choice,
            ranges=RANGES,
            range=span,
            gateway_caption=gateway_caption(choice, span),
            csv_links=[(CSV_LABELS[name], f"{url}&format=csv") for name, url in links.items()],
            page_config={
                "links": links,
                "label": choice.label if choice else "",
                # The charts' x axis: exactly the range asked for, however few the points.
                "span": {"start": start.timestamp(), "end": end.timestamp()},
            },
        )
        return context
