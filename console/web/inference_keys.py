"""Admin page for the gateway's inference keys: list, issue (shown once), revoke."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from console import audit
from console.models import Outcome
from console.models.gateway import InferenceKey
from console.roles import Action
from console.web.views import ConsolePageMixin


class IssueKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who or what the key is for.")
    models = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Served model names it may use, separated by commas; empty: every model.",
    )

    def allowed_models(self) -> list[str]:
        return [m.strip() for m in self.cleaned_data["models"].split(",") if m.strip()]


@method_decorator(never_cache, name="dispatch")  # the page that shows a new key is never kept
class KeysView(ConsolePageMixin, TemplateView):
    """GET lists the keys; POST issues one and shows it, this once."""

    template_name = "keys.html"
    required_action = Action.MANAGE_TOKENS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", IssueKeyForm())
        context["keys"] = InferenceKey.objects.select_related("created_by")
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IssueKeyForm(request.POST)
        if not form.is_valid():
            audit.record(
                request, "inference_key.create", Outcome.FAILED, target_type="inference_key"
            )
            return self.render_to_response(self.get_context_data(form=form), status=400)
        row, key = InferenceKey.issue(
            form.cleaned_data["name"], form.allowed_models(), created_by_id=request.user.pk
        )
        audit.record(request, "inference_key.create", Outcome.OK, target=row)
        return self.render_to_response(self.get_context_data(issued=row, issued_key=key))


class RevokeKeyView(ConsolePageMixin, View):
    """POST: the key stops working at once; it stays listed for the record."""

    required_action = Action.MANAGE_TOKENS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = get_object_or_404(InferenceKey, pk=pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
        audit.record(request, "inference_key.delete", Outcome.OK, target=key)
        return redirect("keys")
