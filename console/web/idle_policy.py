"""The idle ladder and ``pinned_awake`` of one instance, set from its page.

Operators may: whoever may put an engine to sleep may say when the idle policy
(``console.jobs.idle``) does. The API's serializer judges the values (T2 longer than T1).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views import View

from console import audit
from console.api.serializers import InstanceSerializer
from console.models import Instance, Outcome
from console.roles import Action
from console.web.pages import InstanceView
from console.web.views import ConsolePageMixin

IDLE_FIELDS = ("idle_sleep_l1_seconds", "idle_sleep_l2_seconds")


def idle_form_data(post: Any) -> dict[str, Any]:
    data: dict[str, Any] = {name: post.get(name, "").strip() or None for name in IDLE_FIELDS}
    data["pinned_awake"] = "pinned_awake" in post
    return data


class IdlePolicyView(ConsolePageMixin, View):
    """POST: save T1, T2 and pinned_awake; the instance page again, with errors if any."""

    required_action = Action.SLEEP

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        instance = get_object_or_404(Instance, pk=pk)
        data = idle_form_data(request.POST)
        serializer = InstanceSerializer(
            instance, data=data, partial=True, context={"request": request}
        )
        if not serializer.is_valid():
            errors = {key: [str(e) for e in found] for key, found in serializer.errors.items()}
            audit.record(request, "instance.idle_policy", Outcome.FAILED, target=instance,
                         detail={"errors": errors})  # fmt: skip
            return self.page_with_errors(request, pk, errors, data)
        serializer.save()
        audit.record(request, "instance.idle_policy", Outcome.OK, target=instance, detail=data)
        return redirect("instance", pk=pk)

    def page_with_errors(
        self, request: HttpRequest, pk: int, errors: dict[str, list[str]], data: dict[str, Any]
    ) -> HttpResponse:
        page = InstanceView()
        page.setup(request, pk=pk)
        page.object = page.get_object()
        context = page.get_context_data(object=page.object, idle_errors=errors, idle_values=data)
        return TemplateResponse(request, InstanceView.template_name, context, status=400)
