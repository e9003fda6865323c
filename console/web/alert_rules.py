"""The Alerts page (admins): rules, their test send, and the recent deliveries.

The form's URL field is a password input that is never filled back in: the stored URL is
shown masked, and an edit that leaves it blank keeps it. Every change is audited without it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from console import audit
from console.models import Outcome
from console.models.notifications import (
    AlertKind,
    DeliveryState,
    NotificationDelivery,
    NotificationRule,
)
from console.notifications import delivery, targets
from console.notifications.alerts import send_delivery
from console.roles import Action
from console.web.views import ConsolePageMixin

RECENT_DELIVERIES = 50
AUDIT_TYPE = "notification_rule"


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    url = forms.CharField(
        label="Apprise URL",
        max_length=2000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="json://host:port/path, slack://…, mailto://… Stored as a secret; "
        "leave blank when editing to keep the stored one.",
    )
    events = forms.MultipleChoiceField(
        choices=AlertKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    max_per_hour = forms.IntegerField(min_value=1, max_value=3600, initial=30,
                                      label="At most per hour")  # fmt: skip

    def __init__(self, *args: Any, rule: NotificationRule | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule = rule

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"]).strip()
        if not url and self.rule is None:
            raise forms.ValidationError("An Apprise URL is required.")
        if url:
            try:
                targets.parse(url)
            except targets.BadTargetError as bad:
                raise forms.ValidationError(str(bad)) from None
        return url

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        taken = NotificationRule.objects.filter(name=name)
        if self.rule is not None:
            taken = taken.exclude(pk=self.rule.pk)
        if taken.exists():
            raise forms.ValidationError("A rule with this name exists already.")
        return name

    def save(self) -> NotificationRule:
        rule = self.rule or NotificationRule()
        data = self.cleaned_data
        rule.name, rule.events = data["name"], list(data["events"])
        rule.enabled, rule.max_per_hour = data["enabled"], data["max_per_hour"]
        if data["url"]:
            rule.url, rule.masked_url = data["url"], targets.masked(data["url"])
        rule.save()
        return rule


def initial_of(rule: NotificationRule) -> dict[str, Any]:
    return {"name": rule.name, "events": rule.events, "enabled": rule.enabled,
            "max_per_hour": rule.max_per_hour}  # fmt: skip


class AlertsView(ConsolePageMixin, TemplateView):
    """GET lists rules and recent deliveries; POST adds a rule."""

    template_name = "alerts.html"
    required_action = Action.MANAGE_ALERTS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", RuleForm())
        context["rules"] = NotificationRule.objects.all()
        context["deliveries"] = NotificationDelivery.objects.select_related("rule")[
            :RECENT_DELIVERIES
        ]
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RuleForm(request.POST)
        if not form.is_valid():
            audit.record(request, f"{AUDIT_TYPE}.create", Outcome.FAILED, target_type=AUDIT_TYPE,
                         detail={"invalid": sorted(form.errors)})  # fmt: skip
            return self.render_to_response(self.get_context_data(form=form), status=400)
        rule = form.save()
        audit.record(request, f"{AUDIT_TYPE}.create", Outcome.OK, target=rule)
        return redirect("alerts")


class AlertRuleView(ConsolePageMixin, TemplateView):
    """GET shows a rule's form (URL blank, shown masked); POST saves it."""

    template_name = "alert_rule.html"
    required_action = Action.MANAGE_ALERTS

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.rule = get_object_or_404(NotificationRule, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", RuleForm(rule=self.rule, initial=initial_of(self.rule)))
        context["rule"] = self.rule
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = RuleForm(request.POST, rule=self.rule)
        if not form.is_valid():
            audit.record(request, f"{AUDIT_TYPE}.update", Outcome.FAILED, target=self.rule,
                         detail={"invalid": sorted(form.errors)})  # fmt: skip
            return self.render_to_response(self.get_context_data(form=form), status=400)
        form.save()
        audit.record(request, f"{AUDIT_TYPE}.update", Outcome.OK, target=self.rule)
        return redirect("alerts")


class DeleteAlertRuleView(ConsolePageMixin, View):
    """POST: the rule and its deliveries go."""

    required_action = Action.MANAGE_ALERTS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = get_object_or_404(NotificationRule, pk=pk)
        audit.record(request, f"{AUDIT_TYPE}.delete", Outcome.OK, target=rule)
        rule.delete()
        return redirect("alerts")


class SendTestAlertView(ConsolePageMixin, View):
    """POST: a worker sends a test to the rule's target; the page lists its delivery."""

    required_action = Action.MANAGE_ALERTS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = get_object_or_404(NotificationRule, pk=pk)
        made = delivery.open_test(rule, request.user.get_username())
        if made.state == DeliveryState.PENDING:
            send_delivery(made.pk)
        audit.record(request, f"{AUDIT_TYPE}.test", Outcome.OK, target=rule)
        return redirect(reverse("alerts") + "#deliveries")
