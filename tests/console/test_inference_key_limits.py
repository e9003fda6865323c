"""A key's limits, given over the API and on the Keys page, changed with PATCH: stored,
listed, checked."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from console.api.inference_keys import KeyLimitsSerializer
from console.models import AuditEntry
from console.models.gateway import LIMIT_MAXIMUMS, InferenceKey
from console.roles import Role
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db
LIMITS = {"requests_per_minute": 3, "tokens_per_minute": 5000, "max_concurrent": 2}


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


@pytest.fixture
def admin_page(admin: User) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def issue(client: APIClient, **fields: Any) -> Any:
    return client.post("/api/inference-keys/", {"name": "app", **fields}, format="json")


def test_limits_given_when_issuing_are_stored_and_listed(admin_client: APIClient) -> None:
    response = issue(admin_client, **LIMITS)
    assert response.status_code == 201
    row = InferenceKey.objects.get(pk=response.json()["id"])
    assert {name: getattr(row, name) for name in LIMITS} == LIMITS
    listed = admin_client.get(f"/api/inference-keys/{row.pk}/").json()
    assert {name: listed[name] for name in LIMITS} == LIMITS


def test_a_key_issued_without_limits_has_none(admin_client: APIClient) -> None:
    listed = issue(admin_client).json()
    assert [listed[name] for name in LIMITS] == [None, None, None]


@pytest.mark.parametrize("name", sorted(LIMITS))
@pytest.mark.parametrize("bad", [0, -1, 1.5, "many", True, [3], {"n": 3}])
def test_a_limit_that_is_not_a_positive_integer_is_refused(
    admin_client: APIClient, name: str, bad: object
) -> None:
    response = issue(admin_client, **{name: bad})
    assert response.status_code == 400
    assert list(response.json()) == [name]
    assert not InferenceKey.objects.exists()


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_a_limit_over_its_maximum_is_refused_with_the_maximum(
    admin_client: APIClient, name: str
) -> None:
    response = issue(admin_client, **{name: LIMIT_MAXIMUMS[name] + 1})
    assert response.status_code == 400
    assert str(LIMIT_MAXIMUMS[name]) in response.json()[name][0]
    huge = issue(admin_client, **{name: 10**40})
    assert huge.status_code == 400
    assert list(huge.json()) == [name]


def test_the_keys_page_issues_a_key_with_limits(admin_page: Client) -> None:
    form = {"name": "app", "models": "", "requests_per_minute": "3", "tokens_per_minute": "",
            "max_concurrent": "2"}  # fmt: skip
    response = admin_page.post("/keys/", form)
    assert response.status_code == 200
    row = InferenceKey.objects.get()
    assert (row.requests_per_minute, row.tokens_per_minute, row.max_concurrent) == (3, None, 2)
    assert "3 req/min" in admin_page.get("/keys/").content.decode()


@pytest.mark.parametrize("bad", ["0", "-5", "2.5", "lots", str(10**12)])
def test_the_keys_page_refuses_a_bad_limit_with_its_field_error(
    admin_page: Client, bad: str
) -> None:
    response = admin_page.post("/keys/", {"name": "app", "max_concurrent": bad})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"max_concurrent"}
    assert not InferenceKey.objects.exists()


def test_patch_changes_a_keys_limits_and_null_lifts_one(admin_client: APIClient) -> None:
    row, _ = InferenceKey.issue("app", [], requests_per_minute=3, max_concurrent=2)
    url = f"/api/inference-keys/{row.pk}/"
    response = admin_client.patch(url, {"requests_per_minute": 10, "max_concurrent": None},
                                  format="json")  # fmt: skip
    assert response.status_code == 200
    assert (response.json()["requests_per_minute"], response.json()["max_concurrent"]) == (10, None)
    row.refresh_from_db()
    assert (row.requests_per_minute, row.tokens_per_minute, row.max_concurrent) == (10, None, None)
    assert AuditEntry.objects.filter(action="inference_key.update", outcome="ok").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"max_concurrent": 0}, "max_concurrent"), ({"tokens_per_minute": "x"}, "tokens_per_minute"),
     ({"name": "renamed"}, "name"), ({"allowed_models": []}, "allowed_models")],
)  # fmt: skip
def test_patch_refuses_a_bad_limit_or_another_field(
    admin_client: APIClient, body: dict[str, object], field: str
) -> None:
    row, _ = InferenceKey.issue("app", [], requests_per_minute=3)
    response = admin_client.patch(f"/api/inference-keys/{row.pk}/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    row.refresh_from_db()
    assert (row.name, row.requests_per_minute) == ("app", 3)


def test_a_revoked_keys_limits_do_not_change(admin_client: APIClient) -> None:
    row, _ = InferenceKey.issue("app", [])
    admin_client.delete(f"/api/inference-keys/{row.pk}/")
    response = admin_client.patch(f"/api/inference-keys/{row.pk}/", {"max_concurrent": 1},
                                  format="json")  # fmt: skip
    assert response.status_code == 409


def test_patch_keeps_a_revoke_made_since_the_key_was_read(admin_client: APIClient) -> None:
    row, _ = InferenceKey.issue("app", [])
    stale = InferenceKey.objects.get(pk=row.pk)
    InferenceKey.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    body = KeyLimitsSerializer(stale, data={"max_concurrent": 4}, partial=True)
    body.is_valid(raise_exception=True)
    body.save()
    row.refresh_from_db()
    assert (row.revoked_at is not None, row.max_concurrent) == (True, 4)


def test_the_command_issues_a_key_with_limits() -> None:
    call_command("issue_inference_key", "ci", "--requests-per-minute", "3",
                 "--max-concurrent", "2", stdout=StringIO())  # fmt: skip
    row = InferenceKey.objects.get()
    assert (row.requests_per_minute, row.tokens_per_minute, row.max_concurrent) == (3, None, 2)


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "x", str(10**12)])
def test_the_command_refuses_a_bad_limit(bad: str) -> None:
    with pytest.raises(CommandError, match="--tokens-per-minute: a whole number from 1 to"):
        call_command("issue_inference_key", "ci", "--tokens-per-minute", bad, stdout=StringIO())
    assert not InferenceKey.objects.exists()
