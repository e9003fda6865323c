"""Admin page for the gateway's inference keys: list, issue (shown once), change a key's
limits, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from console import audit
from console.models import Outcome
from console.models.gateway import LIMIT_MAXIMUMS, InferenceKey
from console.roles import Action
from console.web.views import ConsolePageMixin

USAGE_CHART_RANGE = timedelta(days=7)


class LimitFields(forms.Form):
    """A key's limits, as the issue form and each key's edit form ask for them."""

    requests_per_minute = forms.IntegerField(
        required=False, min_value=1, max_value=LIMIT_MAXIMUMS["requests_per_minute"],
        help_text="Requests in any 60 s; empty: no limit.",
    )  # fmt: skip
    tokens_per_minute = forms.IntegerField(
        required=False, min_value=1, max_value=LIMIT_MAXIMUMS["tokens_per_minute"],
        help_text="Prompt + completion tokens in any 60 s; empty: no limit.",
    )  # fmt: skip
    max_concurrent = forms.IntegerField(
        required=False, min_value=1, max_value=LIMIT_MAXIMUMS["max_concurrent"],
        help_text="Requests in flight at once; empty: no limit.",
    )  # fmt: skip

    def limits(self) -> dict[str, int | None]:
        return {name: self.cleaned_data[name] for name in LIMIT_MAXIMUMS}


class IssueKeyForm(LimitFields):
    field_order = ("name", "models", *LIMIT_MAXIMUMS)

    name = forms.CharField(max_length=100, help_text="Who or what the key is for.")
    models = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Served model names it may use, separated by commas; empty: every model.",
    )

    def allowed_models(self) -> list[str]:
        return [m.strip() for m in self.cleaned_data["models"].split(",") if m.strip()]


class KeyLimitsForm(LimitFields):
    """One key's limits on the Keys page; its fields' ids are the key's own (one form per
    row, besides the issue form's)."""

    def __init__(self, key: InferenceKey, data: QueryDict | None = None) -> None:
        initial = {name: getattr(key, name) for name in LIMIT_MAXIMUMS}
        super().__init__(data, initial=initial, auto_id=f"key-{key.pk}-%s")
        self.key = key


@method_decorator(never_cache, name="dispatch")  # the page that shows a new key is never kept
class KeysPage(ConsolePageMixin, TemplateView):
    """The Keys page: every key, its limits' form, the issue form and the usage chart."""

    template_name = "keys.html"
    required_action = Action.MANAGE_TOKENS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", IssueKeyForm())
        context["keys"] = key_rows(context.get("limits_form"))
        context["usage_config"] = usage_config(timezone.now())
        return context


def key_rows(refused: KeyLimitsForm | None) -> list[tuple[InferenceKey, KeyLimitsForm]]:
    """Each key with the form of its limits: the one just refused, with its errors, or
    one holding its current limits."""
    keys = InferenceKey.objects.select_related("created_by")
    return [
        (key, refused if refused is not None and refused.key.pk == key.pk else KeyLimitsForm(key))
        for key in keys
    ]


class KeysView(KeysPage):
    """GET lists the keys; POST issues one and shows it, this once."""

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IssueKeyForm(request.POST)
        if not form.is_valid():
            audit.record(
                request, "inference_key.create", Outcome.FAILED, target_type="inference_key"
            )
            return self.render_to_response(self.get_context_data(form=form), status=400)
        row, key = InferenceKey.issue(
            form.cleaned_data["name"], form.allowed_models(), created_by_id=request.user.pk,
            **form.limits(),
        )  # fmt: skip
        audit.record(request, "inference_key.create", Outcome.OK, target=row)
        return self.render_to_response(self.get_context_data(issued=row, issued_key=key))


class KeyLimitsView(KeysPage):
    """POST: the key's limits become the ones given (empty: no limit). A refused change
    shows the page again with the reason, changing nothing."""

    http_method_names = ("post",)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = get_object_or_404(InferenceKey, pk=pk)
        if key.revoked_at is not None:
            reason = f"{key.name}: this key is revoked; its limits no longer apply."
            return self.refuse(key, {"reason": "revoked"}, reason, status=409)
        form = KeyLimitsForm(key, request.POST)
        if not form.is_valid():
            reason = f"The limits of {key.name} were not changed: see the errors in its row."
            context = {"limits_form": form}
            return self.refuse(key, {"invalid": sorted(form.errors)}, reason, 400, context)
        changed = key.set_limits(form.limits())
        audit.record(request, "inference_key.update", Outcome.OK, target=key,
                     detail={"fields": changed})  # fmt: skip
        return redirect(f"{reverse('keys')}#key-{key.pk}")

    def refuse(
        self, key: InferenceKey, detail: dict[str, Any], reason: str, status: int,
        context: dict[str, Any] | None = None,
    ) -> HttpResponse:  # fmt: skip
        audit.record(self.request, "inference_key.update", Outcome.FAILED, target=key,
                     detail=detail)  # fmt: skip
        page = self.get_context_data(limits_refusal=reason, **(context or {}))
        return self.render_to_response(page, status=status)


def usage_config(now: datetime) -> dict[str, Any]:
    """The usage chart's query: tokens per hour over the last 7 days, up to this hour."""
    start = now - USAGE_CHART_RANGE
    query = urlencode({"per": "hour", "start": start.isoformat(), "end": now.isoformat()})
    return {
        "usage": f"{reverse('usage')}?{query}",
        "span": {"start": start.timestamp(), "end": now.timestamp()},
    }


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
