"""The instance page's schedule form (operators), checked and saved as the API does."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views import View

from console import audit
from console.api.schedules import ScheduleSerializer, save_schedule
from console.models import Instance, Outcome
from console.roles import Action
from console.web.pages import InstanceView
from console.web.schedule_text import LineError, sleeps_from_text, windows_from_text
from console.web.views import ConsolePageMixin


def _form_data(post: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The form's text as the API's JSON, and the lines that could not be read."""
    data: dict[str, Any] = {"timezone": post.get("timezone", "").strip() or "UTC"}
    errors: dict[str, list[str]] = {}
    for field, read in (("awake_windows", windows_from_text), ("timed_sleeps", sleeps_from_text)):
        try:
            data[field] = read(post.get(f"{field}_text", ""))
        except LineError as bad:
            errors[field] = [str(bad)]
    return data, errors


class ScheduleFormView(ConsolePageMixin, View):
    """POST: save the schedule; the instance page again, with errors if any."""

    required_action = Action.SLEEP

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        instance = get_object_or_404(Instance, pk=pk)
        data, errors = _form_data(request.POST)
        serializer = ScheduleSerializer(data=data)
        if not errors and not serializer.is_valid():
            errors = {key: [str(e) for e in found] for key, found in serializer.errors.items()}
        if errors:
            audit.record(request, "schedule.put", Outcome.FAILED, target=instance,
                         detail={"errors": errors})  # fmt: skip
            return self.page_with_errors(request, pk, errors)
        save_schedule(instance, serializer.validated_data, timezone.now())
        audit.record(request, "schedule.put", Outcome.OK, target=instance,
                     detail=serializer.validated_data)  # fmt: skip
        return redirect("instance", pk=pk)

    def page_with_errors(
        self, request: HttpRequest, pk: int, errors: dict[str, list[str]]
    ) -> HttpResponse:
        page = InstanceView()
        page.setup(request, pk=pk)
        page.object = page.get_object()
        values = {"timezone": request.POST.get("timezone", ""),
                  "awake_windows_text": request.POST.get("awake_windows_text", ""),
                  "timed_sleeps_text": request.POST.get("timed_sleeps_text", "")}  # fmt: skip
        context = page.get_context_data(
            object=page.object, schedule_errors=errors, schedule_values=values
        )
        return TemplateResponse(request, InstanceView.template_name, context, status=400)
