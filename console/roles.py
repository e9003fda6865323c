"""Roles and what each may do: the one place that decides.

A user's role is the highest of the role groups they belong to (superusers are admins).
Views and API endpoints name an ``Action`` and ask ``can``; nothing else checks groups.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.models import Group, PermissionsMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponseBase
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from console import audit
from console.models import Outcome

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


class Role(IntEnum):
    """Ordered: each role may do everything the roles below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


GROUP_ROLES: Mapping[str, Role] = {role.label: role for role in Role}

# The audit action of a page's form refused for the user's role.
ROLE_REFUSAL = "request.role"


class Action(StrEnum):
    """Something a user asks to do; ``REQUIRED_ROLE`` says who may."""

    VIEW = "view"
    SLEEP = "sleep"
    WAKE = "wake"
    SWITCH = "switch"
    LAUNCH = "launch"
    STOP = "stop"
    CANCEL = "cancel"
    MANAGE_INSTANCES = "instances.manage"
    MANAGE_HOSTS = "hosts.manage"
    MANAGE_USERS = "users.manage"
    MANAGE_TOKENS = "tokens.manage"
    MANAGE_ALERTS = "alerts.manage"
    VIEW_AUDIT = "audit.view"
    VIEW_USAGE = "usage.view"


OPERATE = frozenset(
    {Action.SLEEP, Action.WAKE, Action.SWITCH, Action.LAUNCH, Action.STOP, Action.CANCEL}
)
# Operators' reads that viewers do not get: who used how much of the models.
OPERATOR_READS = frozenset({Action.VIEW_USAGE})
REQUIRED_ROLE: Mapping[Action, Role] = {
    action: Role.VIEWER
    if action == Action.VIEW
    else Role.OPERATOR
    if action in OPERATE | OPERATOR_READS
    else Role.ADMIN
    for action in Action
}


_CACHE_ATTR = "_console_role"
_UNSET: Any = object()


def role_of(user: AnyUser | None) -> Role | None:
    """The user's role; None for anonymous, inactive, or users in no role group.

    Remembered on the user object: a list response asks once per row, and the user object
    lives for one request (a group change shows from the next request on).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not isinstance(user, PermissionsMixin):
        return None
    cached: Role | None = user.__dict__.get(_CACHE_ATTR, _UNSET)
    if cached is not _UNSET:
        return cached
    role = _role_from_groups(user)
    user.__dict__[_CACHE_ATTR] = role
    return role


def _role_from_groups(user: PermissionsMixin) -> Role | None:
    if user.is_superuser:
        return Role.ADMIN
    names = user.groups.values_list("name", flat=True)
    roles = [GROUP_ROLES[name] for name in names if name in GROUP_ROLES]
    return max(roles, default=None)


def can(user: AnyUser | None, action: Action) -> bool:
    """True when the user's role is at least the one the action requires."""
    role = role_of(user)
    return role is not None and role >= REQUIRED_ROLE[action]


def allowed_actions(user: AnyUser | None) -> list[Action]:
    """Every action the user may take (for the UI and ``/api/me/``)."""
    return [action for action in Action if can(user, action)]


def without_restricted(
    user: AnyUser | None, data: dict[str, Any], restricted: Mapping[str, Action]
) -> dict[str, Any]:
    """``data`` less the keys whose action the user may not take (serializer output)."""
    return {
        key: value
        for key, value in data.items()
        if key not in restricted or can(user, restricted[key])
    }


class RolePermission(BasePermission):
    """DRF permission: the view's ``read_action`` for safe methods, else ``write_action``.

    An unauthenticated request fails with 401 (DRF turns a refusal into NotAuthenticated
    when no credentials were accepted), an authenticated one without the role with 403.
    A view without ``write_action`` cannot be written at all: unsafe methods answer 405
    to users with a role, so a forgotten attribute never opens a door.
    """

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return can(request.user, Action(getattr(view, "read_action", Action.VIEW)))
        write: Action | None = getattr(view, "write_action", None)
        if write is not None:
            return can(request.user, write)
        if role_of(request.user) is None:
            return False
        raise MethodNotAllowed(request.method or "")


class RoleRequiredMixin(AccessMixin):
    """Class-based page: anonymous users go to login, users without the role get 403."""

    required_action: Action = Action.VIEW

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not can(request.user, self.required_action):
            refuse(request, self.required_action)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc, no-any-return]


def refuse(request: HttpRequest, action: Action) -> NoReturn:
    """403 for a signed-in user whose role lacks ``action``. A refused change (a form posted
    by a viewer) is audited like the API's refusals; a refused read is not."""
    if request.method not in SAFE_METHODS:
        audit.record(
            request,
            ROLE_REFUSAL,
            Outcome.REFUSED,
            detail={"method": request.method, "path": request.path[:200], "needs": action.value},
        )
    raise PermissionDenied("Your role does not allow this.")


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponseBase])


def role_required(action: Action) -> Callable[[ViewFunc], ViewFunc]:
    """Function-based page: the same rule as ``RoleRequiredMixin``."""

    def decorate(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)  # keeps csrf_exempt and friends
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(request.user, action):
                refuse(request, action)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def assign_role(user: PermissionsMixin, role: Role) -> None:
    """Make ``role`` the user's only role group.

    Migration 0002 creates the groups; they are created again here when missing (a
    transactional test's flush, or an admin who deleted one by hand).
    """
    revoke_role(user)
    user.groups.add(Group.objects.get_or_create(name=role.label)[0])


def revoke_role(user: PermissionsMixin) -> None:
    """Take every role group from the user (sign-on found none of theirs mapped)."""
    user.groups.remove(*Group.objects.filter(name__in=GROUP_ROLES))
    user.__dict__.pop(_CACHE_ATTR, None)


def admins_exist() -> bool:
    """True when an active superuser or an active member of the admin group exists."""
    users = get_user_model()._default_manager.filter(is_active=True)
    return users.filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN.label)).exists()
