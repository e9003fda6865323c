"""The inference keys page: admins issue a key (shown once, with a Copy button), change a
key's limits, and revoke it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from console.models import AuditEntry
from console.models.gateway import LIMIT_MAXIMUMS, InferenceKey, hash_key
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


def test_the_issued_key_has_a_copy_button_for_it(admin_page: Client) -> None:
    page = admin_page.post("/keys/", {"name": "app"}).content.decode()
    assert '<pre class="mono" id="issued-key-value">' in page
    assert '<button type="button" data-copy="issued-key-value">Copy</button>' in page
    assert "js/copy.js" in page


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


NO_LIMITS = {"requests_per_minute": "", "tokens_per_minute": "", "max_concurrent": ""}


def limits_of(row: InferenceKey) -> tuple[int | None, ...]:
    row.refresh_from_db()
    return tuple(getattr(row, name) for name in LIMIT_MAXIMUMS)


def edit_limits(client: Client, row: InferenceKey, **limits: Any) -> Any:
    return client.post(f"/keys/{row.pk}/limits/", {**NO_LIMITS, **limits})


def test_an_admin_changes_a_keys_limits_and_empty_lifts_one(admin_page: Client) -> None:
    row, _ = InferenceKey.issue("app", [], requests_per_minute=3, max_concurrent=2)
    response = edit_limits(admin_page, row, requests_per_minute="7", tokens_per_minute="900")
    assert (response.status_code, response["Location"]) == (302, f"/keys/#key-{row.pk}")
    assert limits_of(row) == (7, 900, None)
    assert "7 req/min" in admin_page.get("/keys/").content.decode()


def test_a_limits_change_is_audited_with_the_fields_it_changed(admin_page: Client) -> None:
    row, _ = InferenceKey.issue("app", [], requests_per_minute=3)
    edit_limits(admin_page, row, requests_per_minute="3", max_concurrent="4")
    entry = AuditEntry.objects.get(action="inference_key.update")
    assert (entry.outcome, entry.target_id) == ("ok", str(row.pk))
    assert (entry.target_type, entry.detail) == ("inference_key", {"fields": ["max_concurrent"]})


@pytest.mark.parametrize(
    "bad", ["0", "-1", "2.5", "lots", str(LIMIT_MAXIMUMS["requests_per_minute"] + 1)]
)
def test_a_bad_limit_is_refused_with_its_field_error_and_changes_nothing(
    admin_page: Client, bad: str
) -> None:
    row, _ = InferenceKey.issue("app", [], requests_per_minute=3, max_concurrent=2)
    response = edit_limits(admin_page, row, requests_per_minute=bad, max_concurrent="5")
    assert response.status_code == 400
    form = {key.pk: form for key, form in response.context["keys"]}[row.pk]
    assert form.errors.keys() == {"requests_per_minute"}
    page = response.content.decode()
    assert f'id="key-{row.pk}-requests_per_minute_error"' in page
    assert "were not changed" in page
    assert limits_of(row) == (3, None, 2)
    entry = AuditEntry.objects.get(action="inference_key.update")
    assert (entry.outcome, entry.detail) == ("failed", {"invalid": ["requests_per_minute"]})


def test_a_limit_over_its_maximum_is_refused_with_the_maximum(admin_page: Client) -> None:
    row, _ = InferenceKey.issue("app", [])
    maximum = LIMIT_MAXIMUMS["tokens_per_minute"]
    response = edit_limits(admin_page, row, tokens_per_minute=str(maximum + 1))
    assert response.status_code == 400
    assert str(maximum) in str(response.context["limits_form"].errors)
    assert limits_of(row) == (None, None, None)


def test_a_revoked_keys_limits_do_not_change(admin_page: Client) -> None:
    row, _ = InferenceKey.issue("app", [], max_concurrent=2)
    admin_page.post(f"/keys/{row.pk}/revoke/")
    response = edit_limits(admin_page, row, max_concurrent="9")
    assert response.status_code == 409
    assert "this key is revoked" in response.content.decode()
    assert limits_of(row) == (None, None, 2)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_a_viewer_or_operator_cannot_change_a_keys_limits(role: Role) -> None:
    row, _ = InferenceKey.issue("app", [], requests_per_minute=3)
    client = Client()
    client.force_login(create_user(role))
    assert edit_limits(client, row, requests_per_minute="100").status_code == 403
    assert limits_of(row) == (3, None, None)


def test_a_limits_change_keeps_a_revoke_made_since_the_key_was_read() -> None:
    row, _ = InferenceKey.issue("app", [])
    stale = InferenceKey.objects.get(pk=row.pk)
    InferenceKey.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert stale.set_limits({"requests_per_minute": 5, "tokens_per_minute": None,
                              "max_concurrent": None}) == ["requests_per_minute"]  # fmt: skip
    row.refresh_from_db()
    assert (row.revoked_at is not None, row.requests_per_minute) == (True, 5)
