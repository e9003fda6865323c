"""Pages: login and logout (audited), and the live dashboard."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.generic import TemplateView

from console import audit
from console.models import Host, Instance, Outcome
from console.roles import Action, RoleRequiredMixin, can, role_of
from console.web.labels import STATE_LABELS
from console.web.memory import BLANK_SEGMENT, host_cards
from console.web.ratelimit import THROTTLED_MESSAGE, login_name, login_throttled
from console.web.rows import InstanceRow, instance_rows

LOCAL_LOGIN_OFF = "Local accounts are disabled here: sign in through single sign-on."


class ConsolePageMixin(RoleRequiredMixin):
    """Every signed-in page: the role check, and the role shown in the navigation bar."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        user = self.request.user  # type: ignore[attr-defined]
        role = role_of(user)
        context["role"] = role.label if role is not None else ""
        context["state_labels"] = STATE_LABELS  # for the pages' scripts (labels.py)
        context["can_view_audit"] = can(user, Action.VIEW_AUDIT)
        context["can_manage_keys"] = can(user, Action.MANAGE_TOKENS)
        context["can_manage_alerts"] = can(user, Action.MANAGE_ALERTS)
        context["can_manage_instances"] = can(user, Action.MANAGE_INSTANCES)
        context["can_manage_users"] = can(user, Action.MANAGE_USERS)
        return context


class LoginView(auth_views.LoginView):
    """Django's login form; every attempt is audited (the password never is).

    Too many failures for one username from one address are answered 429 (``ratelimit``);
    attempts are audited and counted under the name Django authenticates (``login_name``).
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        sign_on = settings.CONSOLE_OIDC
        context["sso_name"] = sign_on.provider_name if sign_on is not None else ""
        context["local_login"] = settings.CONSOLE_LOCAL_LOGIN
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = login_name(request.POST.get("username"))
        if not settings.CONSOLE_LOCAL_LOGIN:
            detail = {"reason": "local accounts are disabled"}
            audit.record(request, "user.login", Outcome.REFUSED, target_type="user",
                         actor=username, detail=detail)  # fmt: skip
            return HttpResponse(LOCAL_LOGIN_OFF, status=403, content_type="text/plain")
        if login_throttled(username, audit.remote_addr(request)):
            detail = {"reason": "too many failed sign-ins"}
            audit.record(request, "user.login", Outcome.REFUSED, target_type="user",
                         actor=username, detail=detail)  # fmt: skip
            context = {"message": THROTTLED_MESSAGE, "next": request.POST.get("next", "")}
            return render(request, "registration/throttled.html", context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        audit.record(self.request, "user.login", Outcome.OK, target=form.get_user())
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        attempted = login_name(form.data.get("username"))
        audit.record(
            self.request, "user.login", Outcome.REFUSED, target_type="user", actor=attempted
        )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, CSRF-protected, as Django 5 requires)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            audit.record(request, "user.logout", Outcome.OK, target=request.user)
        return super().post(request, *args, **kwargs)


class DashboardView(ConsolePageMixin, TemplateView):
    """Hosts with their memory bars, every instance with its state and (operators) actions.

    The first render comes from the database (latest samples); static/js/dashboard.js then
    applies /ws/console/'s snapshot and events to the same partials.
    """

    template_name = "dashboard.html"
    required_action = Action.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        hosts = Host.objects.prefetch_related("gpus")
        instances = list(Instance.objects.select_related("host").prefetch_related("gpus"))
        context.update(
            cards=host_cards(hosts, instances, timezone.now()),
            rows=instance_rows(instances),
            blank_row=InstanceRow.blank(),
            blank_segment=BLANK_SEGMENT,
            can_operate=can(self.request.user, Action.SLEEP),
            page_config={"socket": "/ws/console/"},
        )
        return context
