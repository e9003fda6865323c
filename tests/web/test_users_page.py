"""The users page: admins create users with a role and a validated password, change roles,
deactivate and reactivate, reset passwords; the last admin cannot be taken away."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.models import AuditEntry
from console.roles import Role, role_of
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db
GOOD_PASSWORD = "violet-lantern-harbour-42"


@pytest.fixture
def admin_user() -> User:
    return create_user(Role.ADMIN, username="ada")


@pytest.fixture
def admin_page(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def new_user(**fields: str) -> dict[str, str]:
    return {"username": "nina", "role": "operator", "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD, **fields}  # fmt: skip


def test_an_admin_creates_a_user_with_a_role_and_a_password(admin_page: Client) -> None:
    assert admin_page.post("/users/", new_user()).status_code == 302
    nina = User.objects.get(username="nina")
    assert role_of(nina) == Role.OPERATOR
    assert nina.check_password(GOOD_PASSWORD)
    entry = AuditEntry.objects.get(action="user.create")
    assert (entry.outcome, entry.detail) == ("ok", {"role": "operator"})


def test_a_weak_password_is_refused_with_the_validators_message(admin_page: Client) -> None:
    response = admin_page.post("/users/", new_user(password1="password", password2="password"))
    assert response.status_code == 400
    assert "This password is too common." in response.content.decode()
    assert not User.objects.filter(username="nina").exists()
    assert AuditEntry.objects.filter(action="user.create", outcome="failed").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "ada"}, "A user with that username already exists."),
        ({"username": "bad name!"}, "Enter a valid username."),
        ({"role": "root"}, "Select a valid choice."),
        ({"password2": "other-lantern-harbour-42"}, "The two password fields didn"),
    ],
)
def test_bad_user_fields_get_field_errors(admin_page: Client, fields: dict[str, str],
                                          message: str) -> None:  # fmt: skip
    response = admin_page.post("/users/", new_user(**fields))
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_admin_changes_a_users_role(admin_page: Client) -> None:
    vera = create_user(Role.VIEWER, username="vera")
    assert admin_page.post(f"/users/{vera.pk}/role/", {"role": "admin"}).status_code == 302
    assert role_of(User.objects.get(pk=vera.pk)) == Role.ADMIN
    assert AuditEntry.objects.get(action="user.role").detail == {"role": "admin"}


def test_an_unknown_role_is_a_400(admin_page: Client) -> None:
    vera = create_user(Role.VIEWER, username="vera")
    response = admin_page.post(f"/users/{vera.pk}/role/", {"role": "root"})
    assert response.status_code == 400
    assert "Choose viewer, operator or admin." in response.content.decode()


def test_the_last_admin_cannot_demote_themselves(admin_page: Client, admin_user: User) -> None:
    response = admin_page.post(f"/users/{admin_user.pk}/role/", {"role": "viewer"})
    assert response.status_code == 400
    assert "without an active admin" in response.content.decode()
    assert role_of(User.objects.get(pk=admin_user.pk)) == Role.ADMIN
    assert AuditEntry.objects.filter(action="user.role", outcome="refused").exists()


def test_the_last_admin_cannot_deactivate_themselves(admin_page: Client, admin_user: User) -> None:
    response = admin_page.post(f"/users/{admin_user.pk}/active/", {"active": "0"})
    assert response.status_code == 400
    assert User.objects.get(pk=admin_user.pk).is_active


def test_an_admin_steps_down_once_another_admin_exists(
    admin_page: Client, admin_user: User
) -> None:
    create_user(Role.ADMIN, username="bea")
    assert admin_page.post(f"/users/{admin_user.pk}/role/", {"role": "operator"}).status_code == 302
    assert role_of(User.objects.get(pk=admin_user.pk)) == Role.OPERATOR


def test_a_demoted_superuser_is_no_longer_an_admin(admin_page: Client) -> None:
    root = User.objects.create_superuser("root", password=GOOD_PASSWORD)
    assert admin_page.post(f"/users/{root.pk}/role/", {"role": "viewer"}).status_code == 302
    assert role_of(User.objects.get(pk=root.pk)) == Role.VIEWER


def test_a_deactivated_user_can_no_longer_sign_in_and_comes_back(admin_page: Client) -> None:
    otto = create_user(Role.OPERATOR, username="otto")
    assert admin_page.post(f"/users/{otto.pk}/active/", {"active": "0"}).status_code == 302
    assert not Client().login(username="otto", password="correct-horse-battery-staple")
    assert admin_page.post(f"/users/{otto.pk}/active/", {"active": "1"}).status_code == 302
    assert role_of(User.objects.get(pk=otto.pk)) == Role.OPERATOR
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.deactivate", "user.activate"} <= actions


def test_an_admin_resets_a_password(admin_page: Client) -> None:
    otto = create_user(Role.OPERATOR, username="otto")
    form = {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    assert admin_page.post(f"/users/{otto.pk}/password/", form).status_code == 302
    assert User.objects.get(pk=otto.pk).check_password(GOOD_PASSWORD)
    assert AuditEntry.objects.filter(action="user.password", outcome="ok").exists()


def test_a_too_short_reset_password_is_refused(admin_page: Client) -> None:
    otto = create_user(Role.OPERATOR, username="otto")
    form = {"new_password1": "short", "new_password2": "short"}
    response = admin_page.post(f"/users/{otto.pk}/password/", form)
    assert response.status_code == 400
    assert "This password is too short." in response.content.decode()


def test_no_password_reaches_the_audit_log(admin_page: Client) -> None:
    admin_page.post("/users/", new_user(password2="other-lantern-harbour-42"))
    admin_page.post("/users/", new_user())
    logged = str(list(AuditEntry.objects.values_list("detail", flat=True)))
    assert GOOD_PASSWORD not in logged


def test_the_users_link_is_shown_to_admins_only(admin_page: Client) -> None:
    operator = Client()
    operator.force_login(create_user(Role.OPERATOR))
    assert 'href="/users/"' in admin_page.get("/").content.decode()
    assert 'href="/users/"' not in operator.get("/").content.decode()


def test_a_username_with_markup_renders_as_text_on_the_users_and_tokens_pages(
    admin_page: Client,
) -> None:
    User.objects.create_user(username="<img src=x onerror=alert(1)>", password=GOOD_PASSWORD)
    for url in ("/users/", "/tokens/"):
        html = admin_page.get(url).content.decode()
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
