"""``/api/usage/`` (JSON, for the chart) and ``/api/usage.csv``: per-key usage, operator+.

Rows are sums per hour or day (``per``), key and model over ``start``..``end`` (default:
the last 7 days), optionally of one key (``key``: its id) or one model (``model``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from console.gateway.usage import USAGE_COUNTERS
from console.gateway.usage_store import usage_rows
from console.history.views import HistoryView, identifier, time_range
from console.roles import Action

DEFAULT_RANGE = timedelta(days=7)
PERIODS = ("hour", "day")
FIELDS = ["period", "key_id", "key", "model", *USAGE_COUNTERS]


class UsageView(HistoryView):
    """Usage per key and model per hour or day; ``.csv`` (or ``?format=csv``) downloads."""

    read_action = Action.VIEW_USAGE

    @extend_schema(
        parameters=[
            OpenApiParameter("per", str, enum=list(PERIODS), description="default: hour"),
            OpenApiParameter("key", int, description="one inference key's id"),
            OpenApiParameter("model", str, description="one served model name"),
            OpenApiParameter("start", OpenApiTypes.DATETIME, description="default: 7 days ago"),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="default: now"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, format: str | None = None) -> Response:
        per = request.query_params.get("per", "hour")
        if per not in PERIODS:
            raise ValidationError({"per": f"one of {', '.join(PERIODS)}"})
        key_id = identifier(request, "key") if "key" in request.query_params else None
        start, end = time_range(request, DEFAULT_RANGE)
        model = request.query_params.get("model")
        rows = [table_row(row) for row in usage_rows(start, end, per, key_id, model)]
        if self.wants_csv(request):
            return self.csv(f"usage-per-{per}.csv", FIELDS, rows)
        return Response({"per": per, "fields": FIELDS, "rows": rows})


def table_row(row: dict[str, Any]) -> list[object]:
    counts = [round(row["held_seconds"] or 0.0, 3) if name == "held_seconds" else
              int(row[name] or 0) for name in USAGE_COUNTERS]  # fmt: skip
    return [row["period"].isoformat(), row["key_id"], row["key__name"], row["model"], *counts]
