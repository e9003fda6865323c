"""The audit log is append-only and never holds a secret."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory

from console import audit
from console.models import AuditEntry, AuditEntryImmutableError, Outcome
from tests.console.conftest import UserFactory


@pytest.fixture
def entry(db: None) -> AuditEntry:
    return audit.record(None, "instance.create", Outcome.OK, actor="manage.py")


def test_saving_an_existing_entry_is_refused(entry: AuditEntry) -> None:
    entry.action = "instance.delete"
    with pytest.raises(AuditEntryImmutableError):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).action == "instance.create"


def test_deleting_an_entry_is_refused(entry: AuditEntry) -> None:
    with pytest.raises(AuditEntryImmutableError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_bulk_update_and_delete_are_refused(entry: AuditEntry) -> None:
    with pytest.raises(AuditEntryImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(outcome=Outcome.FAILED)
    with pytest.raises(AuditEntryImmutableError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.count() == 1


def test_entry_keeps_the_username_when_the_user_is_deleted(make_user: UserFactory) -> None:
    user = make_user(username="gone")
    request = RequestFactory().post("/", REMOTE_ADDR="10.1.2.3")
    request.user = user
    written = audit.record(request, "user.logout", Outcome.OK, target=user)
    User.objects.filter(pk=user.pk).delete()
    kept = AuditEntry.objects.get(pk=written.pk)
    assert (kept.user, kept.username, kept.remote_addr) == (None, "gone", "10.1.2.3")


def test_secret_values_in_the_detail_are_redacted(db: None) -> None:
    written = audit.record(
        None,
        "instance.update",
        Outcome.OK,
        detail={"api_key": "sk-1", "nested": {"launch_env": {"HF_TOKEN": "hf-2"}}, "n": 1},
    )
    assert written.detail == {
        "api_key": audit.REDACTED,
        "nested": {"launch_env": audit.REDACTED},
        "n": 1,
    }
