"""The inference keys page: admins issue a key (shown once) and revoke it."""

from __future__ import annotations

import pytest
from django.test import Client

from console.models import AuditEntry
from console.models.gateway import InferenceKey, hash_key
from console.roles import Role
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_page() -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(create_user(Role.ADMIN))
    return client


def test_an_admin_issues_a_key_that_is_shown_once(admin_page: Client) -> None:
    response = admin_page.post("/keys/", {"name": "app", "models": "org/a, org/b"})
    assert response.status_code == 200
    key = response.context["issued_key"]
    assert key in response.content.decode()
    row = InferenceKey.objects.get()
    assert (row.key_hash, row.allowed_models) == (hash_key(key), ["org/a", "org/b"])
    assert key not in admin_page.get("/keys/").content.decode()
    assert AuditEntry.objects.filter(action="inference_key.create", outcome="ok").exists()


def test_revoking_from_the_page_stops_the_key(admin_page: Client) -> None:
    row, _ = InferenceKey.issue("app", [])
    assert admin_page.post(f"/keys/{row.pk}/revoke/").status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert "revoked" in admin_page.get("/keys/").content.decode()


def test_a_key_name_with_markup_renders_as_text(admin_page: Client) -> None:
    InferenceKey.issue("<script>alert(1)</script>", [])
    page = admin_page.get("/keys/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_an_operator_cannot_see_the_keys(admin_page: Client) -> None:
    operator = Client()
    operator.force_login(create_user(Role.OPERATOR))
    assert operator.get("/keys/").status_code == 403
    assert "Keys" not in operator.get("/").content.decode().split("</nav>")[0]
