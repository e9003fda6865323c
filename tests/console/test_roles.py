"""Roles: who has which, and what each may do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User

from console.roles import Action, Role, assign_role, can, role_of
from tests.console.conftest import UserFactory


def test_superuser_is_admin_without_any_group(db: None) -> None:
    user = User.objects.create_superuser("root", password="x")
    assert role_of(user) == Role.ADMIN


def test_role_is_the_highest_role_group(make_user: UserFactory) -> None:
    user = make_user(Role.VIEWER)
    user.groups.add(Group.objects.get(name="operator"))
    assert role_of(User.objects.get(pk=user.pk)) == Role.OPERATOR


def test_inactive_user_has_no_role(make_user: UserFactory) -> None:
    assert role_of(make_user(Role.ADMIN, active=False)) is None


def test_anonymous_user_has_no_role() -> None:
    assert role_of(AnonymousUser()) is None


def test_user_in_no_role_group_has_no_role_and_may_not_view(make_user: UserFactory) -> None:
    user = make_user(None)
    assert role_of(user) is None
    assert not can(user, Action.VIEW)


def test_assign_role_replaces_the_previous_role(make_user: UserFactory) -> None:
    user = make_user(Role.ADMIN)
    assign_role(user, Role.VIEWER)
    assert role_of(User.objects.get(pk=user.pk)) == Role.VIEWER


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Action.VIEW}),
        (
            Role.OPERATOR,
            {
                Action.VIEW,
                Action.SLEEP,
                Action.WAKE,
                Action.SWITCH,
                Action.LAUNCH,
                Action.STOP,
                Action.CANCEL,
                Action.VIEW_USAGE,
            },
        ),
        (Role.ADMIN, set(Action)),
    ],
)
def test_each_role_may_take_exactly_its_actions(
    make_user: UserFactory, role: Role, allowed: set[Action]
) -> None:
    user = make_user(role)
    assert {action for action in Action if can(user, action)} == allowed
