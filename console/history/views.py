"""History endpoints (``/api/history/...``): JSON for the charts, ``?format=csv`` to download.

Any role may read them (``Action.VIEW``), through the session or an API token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from console.api.base import ConsoleAPIView
from console.gateway.figures import COUNTERS
from console.gateway.history import series as gateway_series
from console.history.export import iso_from_epoch, to_csv
from console.history.held_by import held_by, instance_gpu_bytes
from console.history.latency import latency_series
from console.history.memory import memory_series
from console.history.timings import timings
from console.models import Subject

OFFSET_AS_SPACE = re.compile(r" (\d\d:?\d\d)$")
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
# The largest id a database stores (a signed 64-bit BigAutoField); beyond it SQLite's
# driver raises OverflowError instead of finding nothing.
MAX_ID = 2**63 - 1
DEFAULT_RANGE = timedelta(hours=1)
MAX_RANGE = timedelta(days=400)
RANGE = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="default: an hour before end"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="default: now"),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a download"),
]
INSTANCE = OpenApiParameter("instance", int, required=True)


class CSVRenderer(BaseRenderer):
    """``?format=csv``: views hand it ``{"filename", "header", "rows"}``."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> str:
        if not isinstance(data, dict) or "header" not in data:
            return to_csv(["error"], [[str(data)]])  # an error body (400, 403) as CSV
        return to_csv(data["header"], data["rows"])


def moment(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    # An unescaped "+" of a UTC offset arrives as a space ("...T10:00:00 02:00").
    try:
        parsed = parse_datetime(OFFSET_AS_SPACE.sub(r"+\1", raw))
    except ValueError:  # well formed but impossible: "+99:00", February 30th
        raise ValidationError({name: f"not a valid date and time: {raw!r}"}) from None
    if parsed is None:
        raise ValidationError({name: f"not an ISO-8601 date and time: {raw!r}"})
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python parses happily.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValidationError({name: f"out of range: {raw!r}"}) from None


def time_range(request: Request, default: timedelta = DEFAULT_RANGE) -> tuple[datetime, datetime]:
    end = moment(request, "end", timezone.now())
    start = moment(request, "start", end - default)
    if start >= end:
        raise ValidationError({"start": "must be before end"})
    if end - start > MAX_RANGE:
        raise ValidationError({"start": f"ranges are at most {MAX_RANGE.days} days"})
    return start, end


def identifier(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "")
    if not raw.isascii() or not raw.isdigit():
        raise ValidationError({name: "a numeric id is required"})
    if int(raw) > MAX_ID:
        raise ValidationError({name: f"ids are at most {MAX_ID}"})
    return int(raw)


class HistoryView(ConsoleAPIView):
    """A read-only history endpoint; ``csv`` returns the same rows as a download."""

    pagination_class = None
    renderer_classes = (JSONRenderer, CSVRenderer)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if response.status_code >= 400:
            # Errors are JSON even when a CSV was asked for: clients parse them the same way.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def wants_csv(self, request: Request) -> bool:
        return getattr(request.accepted_renderer, "format", "") == "csv"

    def csv(self, filename: str, header: list[str], rows: list[Any]) -> Response:
        response = Response({"header": header, "rows": rows})
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class MemoryHistoryView(HistoryView):
    """``?subject=gpu|host|instance&id=N&start=&end=`` -> ``[epoch, avg, min, max]`` points;
    a GPU's also say who held it: ``held_by`` names and ``[epoch, bytes per name]`` points;
    an instance's (host RSS) come with ``gpu_points``, what it held on its GPUs."""

    @extend_schema(
        parameters=[
            OpenApiParameter("subject", str, enum=Subject.values, required=True),
            OpenApiParameter("id", int, required=True, description="the GPU, host or instance"),
            *RANGE,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        subject = request.query_params.get("subject", "")
        if subject not in Subject.values:
            raise ValidationError({"subject": f"one of {', '.join(Subject.values)}"})
        subject_id = identifier(request, "id")
        start, end = time_range(request)
        series = memory_series(Subject(subject), subject_id, start, end, timezone.now())
        if self.wants_csv(request):
            rows = [[iso_from_epoch(at), *values] for at, *values in series.points]
            header = ["time", "avg_used_bytes", "min_used_bytes", "max_used_bytes"]
            return self.csv(f"memory-{subject}-{subject_id}.csv", header, rows)
        body: dict[str, Any] = {"resolution": series.resolution, "points": series.points}
        if subject == Subject.GPU:
            held = held_by(subject_id, start, end, timezone.now())
            body["held_by"] = {"names": held.names, "points": held.points}
        if subject == Subject.INSTANCE:
            body["gpu_points"] = instance_gpu_bytes(subject_id, start, end, timezone.now())
        return Response(body)


class TimingsHistoryView(HistoryView):
    """``?instance=N&start=&end=`` -> the finished sleeps and wakes with their figures."""

    @extend_schema(parameters=[INSTANCE, *RANGE], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        instance_id = identifier(request, "instance")
        start, end = time_range(request)
        rows = timings(instance_id, start, end)
        if self.wants_csv(request):
            header = list(rows[0]) if rows else ["job_id"]
            return self.csv(f"timings-{instance_id}.csv", header, [list(r.values()) for r in rows])
        return Response({"timings": rows})


class LatencyHistoryView(HistoryView):
    """``?instance=N&start=&end=`` -> ``[epoch, ttft_p50, ttft_p95, e2e_p50, e2e_p95]``."""

    @extend_schema(parameters=[INSTANCE, *RANGE], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        instance_id = identifier(request, "instance")
        start, end = time_range(request)
        series = latency_series(instance_id, start, end, timezone.now())
        if self.wants_csv(request):
            rows = [[iso_from_epoch(at), *values] for at, *values in series.points]
            header = ["time", "ttft_p50_s", "ttft_p95_s", "e2e_p50_s", "e2e_p95_s"]
            return self.csv(f"latency-{instance_id}.csv", header, rows)
        return Response(
            {"resolution": series.resolution, "points": series.points, "note": series.note}
        )


class GatewayHistoryView(HistoryView):
    """``?model=NAME&start=&end=`` -> gateway counts per minute or hour (all models if none)."""

    @extend_schema(
        parameters=[OpenApiParameter("model", str, description="a served model name"), *RANGE],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        model = request.query_params.get("model") or None
        start, end = time_range(request)
        result = gateway_series(model, start, end)
        header = ["time", *COUNTERS]
        if self.wants_csv(request):
            rows = [[iso_from_epoch(at), *values] for at, *values in result.points]
            name = UNSAFE_IN_FILENAME.sub("_", model or "all")
            return self.csv(f"gateway-{name}.csv", header, rows)
        return Response(
            {"resolution": result.resolution, "fields": header, "points": result.points}
        )
