"""An instance's schedule: ``/api/instances/<pk>/schedule/`` (read: viewers; write: operators).

Operators may: whoever may put an engine to sleep may say when it sleeps and wakes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from console.api.base import ConsoleAPIView
from console.jobs import timetable
from console.models import Instance, InstanceSchedule
from console.roles import Action

EMPTY = {"timezone": "UTC", "awake_windows": [], "timed_sleeps": []}
UPCOMING = 5


class ScheduleSerializer(serializers.Serializer[dict[str, Any]]):
    """Checked by ``console.jobs.timetable.parse``: days, times, levels, overlaps."""

    timezone = serializers.CharField(max_length=64, default="UTC")
    awake_windows = serializers.ListField(child=serializers.DictField(), default=list)
    timed_sleeps = serializers.ListField(child=serializers.DictField(), default=list)
    kept_awake_now = serializers.BooleanField(read_only=True)
    upcoming = serializers.ListField(child=serializers.DictField(), read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in unknown})
        try:
            table = timetable.parse(
                attrs["timezone"], attrs["awake_windows"], attrs["timed_sleeps"]
            )
        except timetable.ScheduleError as bad:
            raise serializers.ValidationError(bad.errors) from None
        return table.stored()


def upcoming(table: timetable.Timetable, now: datetime) -> list[dict[str, Any]]:
    """The next few window starts and timed sleeps, in the schedule's time zone."""
    found = table.occurrences(now, now + timedelta(days=8))[:UPCOMING]
    return [{"at": o.at.isoformat(), "action": o.action, "rule": o.rule} for o in found]


def schedule_document(instance: Instance, now: datetime) -> dict[str, Any]:
    """What the API and the instance page show: the schedule and what it does next."""
    schedule = InstanceSchedule.objects.filter(instance=instance).first()
    if schedule is None:
        return {**EMPTY, "kept_awake_now": False, "upcoming": []}
    table = timetable.of(schedule)
    return {**table.stored(), "kept_awake_now": table.keeps_awake(now),
            "upcoming": upcoming(table, now)}  # fmt: skip


def save_schedule(instance: Instance, stored: dict[str, Any], now: datetime) -> None:
    """Replace the schedule; moments before ``now`` are not acted on (they passed unseen)."""
    InstanceSchedule.objects.update_or_create(
        instance=instance, defaults={**stored, "handled_until": now, "updated_at": now}
    )


class ScheduleView(ConsoleAPIView):
    """GET the schedule, PUT a whole new one, DELETE it (the instance then has none)."""

    write_action = Action.SLEEP
    pagination_class = None
    audit_type = "schedule"

    @extend_schema(responses=ScheduleSerializer)
    def get(self, request: Request, pk: int) -> Response:
        instance = get_object_or_404(Instance, pk=pk)
        return Response(schedule_document(instance, timezone.now()))

    @extend_schema(request=ScheduleSerializer, responses=ScheduleSerializer)
    def put(self, request: Request, pk: int) -> Response:
        instance = get_object_or_404(Instance, pk=pk)
        self.audit_target = instance
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        now = timezone.now()
        save_schedule(instance, serializer.validated_data, now)
        return Response(schedule_document(instance, now))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        instance = get_object_or_404(Instance, pk=pk)
        self.audit_target = instance
        InstanceSchedule.objects.filter(instance=instance).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
