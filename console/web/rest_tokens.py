"""Admin page for REST API tokens (django-rest-knox): list, issue (shown once), revoke.

A token is found by its SHA-512 digest (knox's primary key); the page shows only the first
characters of its key. Issuing from the page adds a token beside the user's others
(``manage.py issue_token`` replaces them).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView
from knox.models import AuthToken

from console import audit
from console.api.tokens import new_token
from console.models import Outcome
from console.roles import Action
from console.web.views import ConsolePageMixin

SHOWN_KEY_CHARS = 8
MAX_DAYS = 3650
NO_SUCH_TOKEN = "No such token: it may have been revoked already."


class IssueTokenForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        to_field_name="username",
        help_text="The token acts as this user, with their role.",
    )
    days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        label="Expires after (days)",
        help_text="Empty: never expires.",
    )


@method_decorator(never_cache, name="dispatch")  # the page that shows a new token is never kept
class TokensView(ConsolePageMixin, TemplateView):
    """GET lists every token; POST issues one and shows it, this once."""

    template_name = "tokens.html"
    required_action = Action.MANAGE_TOKENS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", IssueTokenForm())
        context["tokens"] = AuthToken.objects.select_related("user").order_by("-created")
        context["shown_chars"] = SHOWN_KEY_CHARS
        context["now"] = timezone.now()
        return context

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IssueTokenForm(request.POST)
        if not form.is_valid():
            audit.record(request, "token.issue", Outcome.FAILED, target_type="user",
                         detail={"errors": form.errors.get_json_data()})  # fmt: skip
            return self.render_to_response(self.get_context_data(form=form), status=400)
        user: User = form.cleaned_data["user"]
        days: int | None = form.cleaned_data["days"]
        key = new_token(user, expiry=timedelta(days=days) if days else None)
        audit.record(request, "token.issue", Outcome.OK, target=user, detail={"days": days})
        return self.render_to_response(self.get_context_data(issued_for=user, issued_key=key))


class RevokeTokenView(TokensView):
    """POST ``digest``: that token stops working at once and leaves the list."""

    http_method_names = ("post",)

    def post(self, request: HttpRequest) -> HttpResponse:
        digest = request.POST.get("digest", "")
        token = AuthToken.objects.select_related("user").filter(digest=digest).first()
        if token is None:
            audit.record(request, "token.revoke", Outcome.FAILED, target_type="token",
                         detail={"reason": "no such token"})  # fmt: skip
            context = self.get_context_data(revoke_error=NO_SUCH_TOKEN)
            return self.render_to_response(context, status=400)
        audit.record(request, "token.revoke", Outcome.OK, target=token.user,
                     detail={"prefix": token.token_key[:SHOWN_KEY_CHARS]})  # fmt: skip
        token.delete()
        return redirect("tokens")
