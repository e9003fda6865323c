"""``manage.py issue_inference_key``: a new key printed once, only its hash stored."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from console.models import AuditEntry
from console.models.gateway import KEY_PREFIX, InferenceKey, hash_key

pytestmark = pytest.mark.django_db


def issue(*args: str) -> str:
    out = StringIO()
    call_command("issue_inference_key", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_prints_a_key_and_stores_only_its_hash() -> None:
    key = issue("ci")
    assert key.startswith(KEY_PREFIX)
    row = InferenceKey.objects.get()
    assert row.key_hash == hash_key(key)
    assert key not in (row.key_hash, row.prefix)
    assert key.startswith(row.prefix)


def test_models_limit_what_the_key_may_use() -> None:
    issue("ci", "--models", "test/a, test/b")
    row = InferenceKey.objects.get()
    assert row.allowed_models == ["test/a", "test/b"]
    assert row.may_use("test/a")
    assert not row.may_use("test/c")


def test_a_key_without_models_may_use_every_model() -> None:
    issue("ci")
    assert InferenceKey.objects.get().may_use("anything")


def test_issuing_a_key_is_audited() -> None:
    issue("ci")
    assert AuditEntry.objects.filter(action="inference_key.issue").count() == 1
