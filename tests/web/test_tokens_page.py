"""The REST tokens page: admins issue a token for a user (shown once), list and revoke them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from console.api.tokens import new_token
from console.models import AuditEntry
from console.roles import Role
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.ADMIN, username="ada"))
    return client


@pytest.fixture
def otto() -> User:
    return create_user(Role.OPERATOR, username="otto")


def api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return int(client.get("/api/me/").status_code)


def test_an_issued_token_is_shown_once_and_works(admin_page: Client, otto: User) -> None:
    response = admin_page.post("/tokens/", {"user": "otto", "days": "30"})
    assert response.status_code == 200
    key = response.context["issued_key"]
    assert key in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    assert api_status(key) == 200
    assert key not in admin_page.get("/tokens/").content.decode()
    token = AuthToken.objects.get(user=otto)
    assert token.expiry is not None
    assert AuditEntry.objects.get(action="token.issue").detail == {"days": 30}


def test_a_token_without_days_never_expires(admin_page: Client, otto: User) -> None:
    admin_page.post("/tokens/", {"user": "otto"})
    assert AuthToken.objects.get(user=otto).expiry is None
    assert "never" in admin_page.get("/tokens/").content.decode()


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"user": "nobody"}, "user"),
        ({"user": "otto", "days": "0"}, "days"),
        ({"user": "otto", "days": "ten"}, "days"),
        ({"user": "otto", "days": "99999"}, "days"),
    ],
)
def test_bad_token_fields_get_field_errors(admin_page: Client, otto: User, form: dict[str, str],
                                           field: str) -> None:  # fmt: skip
    response = admin_page.post("/tokens/", form)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not AuthToken.objects.exists()


def test_the_list_shows_a_prefix_owner_and_expiry_never_the_key(
    admin_page: Client, otto: User
) -> None:
    key = new_token(otto)
    html = admin_page.get("/tokens/").content.decode()
    assert key[:8] in html
    assert key[:15] not in html
    assert "otto" in html


def test_revoking_stops_the_token_at_once(admin_page: Client, otto: User) -> None:
    key = new_token(otto)
    digest = AuthToken.objects.get(user=otto).digest
    assert admin_page.post("/tokens/revoke/", {"digest": digest}).status_code == 302
    assert api_status(key) == 401
    assert AuditEntry.objects.get(action="token.revoke").detail == {"prefix": key[:8]}


def test_revoking_an_unknown_token_says_so(admin_page: Client) -> None:
    response = admin_page.post("/tokens/revoke/", {"digest": "f" * 128})
    assert response.status_code == 400
    assert "No such token" in response.content.decode()
