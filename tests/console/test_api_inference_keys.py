"""Inference keys over the API: shown once when issued, revoked (not deleted), audited."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.models import AuditEntry
from console.models.gateway import InferenceKey, hash_key
from console.roles import Role
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


def test_an_issued_key_is_shown_once_and_only_its_hash_is_kept(admin_client: APIClient) -> None:
    response = admin_client.post(
        "/api/inference-keys/", {"name": "app", "allowed_models": ["org/a"]}, format="json"
    )
    assert response.status_code == 201
    key = response.json()["key"]
    row = InferenceKey.objects.get(pk=response.json()["id"])
    assert row.key_hash == hash_key(key)
    assert key.startswith(row.prefix)
    listed = admin_client.get(f"/api/inference-keys/{row.pk}/").json()
    assert "key" not in listed
    assert key not in str(admin_client.get("/api/inference-keys/").json())
    assert AuditEntry.objects.filter(action="inference_key.create", outcome="ok").exists()
    assert key not in str(list(AuditEntry.objects.values()))


def test_revoking_keeps_the_key_listed_and_unusable(admin_client: APIClient) -> None:
    row, _ = InferenceKey.issue("app", [])
    assert admin_client.delete(f"/api/inference-keys/{row.pk}/").status_code == 204
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert admin_client.delete(f"/api/inference-keys/{row.pk}/").status_code == 409


def test_a_key_without_a_name_is_refused(admin_client: APIClient) -> None:
    response = admin_client.post("/api/inference-keys/", {"allowed_models": []}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
