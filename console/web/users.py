"""Admin pages for users: list, create (with a role and a validated password), change a
role, deactivate or reactivate, reset a password. Every attempt is audited; no change may
leave the console without an active admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm, UserCreationForm, UsernameField
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import TemplateView

from console import audit
from console.models import Outcome
from console.roles import Action, Role, assign_role, role_of
from console.web.views import ConsolePageMixin

ROLE_CHOICES = [(role.label, role.label) for role in Role]
LAST_ADMIN = "This would leave the console without an active admin: make another user admin first."


if TYPE_CHECKING:
    UserCreationBase = UserCreationForm[User]
else:  # not subscriptable at run time (django-stubs' is)
    UserCreationBase = UserCreationForm


class NewUserForm(UserCreationBase):
    """Django's user creation (unique username, password checked by the validators) plus
    the one role the user gets."""

    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER.label)

    class Meta:
        model = User
        fields = ("username",)
        # NFKC-normalised as sign-in reads it: a full-width look-alike of a name is that name.
        field_classes: ClassVar[dict[str, type[forms.Field]]] = {"username": UsernameField}


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


def other_admins_exist(user: User) -> bool:
    """True when an active admin other than ``user`` remains."""
    users = get_user_model()._default_manager.filter(is_active=True).exclude(pk=user.pk)
    return users.filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN.label)).exists()


def loses_last_admin(user: User, keeps_admin: bool) -> bool:
    """True when the change takes away the last active admin (``keeps_admin``: whether
    the user stays an active admin after it)."""
    return role_of(user) == Role.ADMIN and not keeps_admin and not other_admins_exist(user)


def set_role(user: User, role: Role) -> None:
    """``role`` becomes the user's role; a superuser demoted stops being one (superusers
    are admins whatever their groups)."""
    if role != Role.ADMIN and user.is_superuser:
        user.is_superuser = user.is_staff = False
        user.save(update_fields=["is_superuser", "is_staff"])
    assign_role(user, role)


class UserPageMixin(ConsolePageMixin):
    required_action = Action.MANAGE_USERS

    def target(self) -> User:
        return get_object_or_404(User, pk=self.kwargs["pk"])  # type: ignore[attr-defined]


class UsersPage(UserPageMixin, TemplateView):
    """The users page: every user with their role, and the form to add one."""

    template_name = "users.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", NewUserForm())
        users = User.objects.prefetch_related("groups").order_by("username")
        context["users"] = [(user, listed_role(user)) for user in users]
        context["role_choices"] = [role.label for role in Role]
        return context

    def refuse(self, action: str, user: User, outcome: Outcome, message: str) -> HttpResponse:
        """Audit the refused change and show the page again with the reason (400)."""
        audit.record(self.request, action, outcome, target=user, detail={"reason": message})
        context = self.get_context_data(refusal=message, refused_user=user)
        return self.render_to_response(context, status=400)


class UsersView(UsersPage):
    """GET lists the users; POST creates one."""

    def post(self, request: HttpRequest) -> HttpResponse:
        form = NewUserForm(request.POST)
        if not form.is_valid():
            audit.record(request, "user.create", Outcome.FAILED, target_type="user",
                         detail={"errors": form.errors.get_json_data()})  # fmt: skip
            return self.render_to_response(self.get_context_data(form=form), status=400)
        with transaction.atomic():
            user = form.save()
            assign_role(user, Role[form.cleaned_data["role"].upper()])
        audit.record(request, "user.create", Outcome.OK, target=user,
                     detail={"role": form.cleaned_data["role"]})  # fmt: skip
        return redirect("users")


def listed_role(user: User) -> str:
    """The user's role, shown for deactivated users too (the one they get back)."""
    if user.is_superuser:
        return Role.ADMIN.label
    labels = {group.name for group in user.groups.all()}
    roles = [role for role in Role if role.label in labels]
    return max(roles).label if roles else ""


class UserRoleView(UsersPage):
    """POST: the user's role becomes the one chosen."""

    http_method_names = ("post",)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = self.target()
        form = RoleForm(request.POST)
        if not form.is_valid():
            return self.refuse(
                "user.role", user, Outcome.FAILED, "Choose viewer, operator or admin."
            )
        role = Role[form.cleaned_data["role"].upper()]
        if loses_last_admin(user, keeps_admin=role == Role.ADMIN):
            return self.refuse("user.role", user, Outcome.REFUSED, LAST_ADMIN)
        set_role(user, role)
        audit.record(request, "user.role", Outcome.OK, target=user, detail={"role": role.label})
        return redirect("users")


class UserActiveView(UsersPage):
    """POST ``active=0`` deactivates the user (signed out at the next request, tokens
    refused), ``active=1`` lets them back in."""

    http_method_names = ("post",)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = self.target()
        active = request.POST.get("active")
        action = "user.activate" if active == "1" else "user.deactivate"
        if active not in {"0", "1"}:
            return self.refuse(action, user, Outcome.FAILED, "Say active=1 or active=0.")
        if active == "0" and loses_last_admin(user, keeps_admin=False):
            return self.refuse(action, user, Outcome.REFUSED, LAST_ADMIN)
        user.is_active = active == "1"
        user.save(update_fields=["is_active"])
        audit.record(request, action, Outcome.OK, target=user)
        return redirect("users")


class UserPasswordView(UserPageMixin, TemplateView):
    """GET: the form; POST: the new password (checked by the validators) replaces the old."""

    template_name = "user_password.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["target"] = user = self.target()
        context.setdefault("form", SetPasswordForm(user))
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = self.target()
        form = SetPasswordForm(user, request.POST)
        if not form.is_valid():
            audit.record(request, "user.password", Outcome.FAILED, target=user,
                         detail={"errors": form.errors.get_json_data()})  # fmt: skip
            return self.render_to_response(self.get_context_data(form=form), status=400)
        form.save()
        audit.record(request, "user.password", Outcome.OK, target=user)
        return redirect("users")
