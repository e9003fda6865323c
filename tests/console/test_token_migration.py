"""Migration 0006: the plain-text REST tokens of a database from before tokens were hashed
become hashed tokens that keep working, and no plain key is left behind."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("console.migrations.0006_hash_rest_tokens")
PLAIN_KEY = "0123456789abcdef0123456789abcdef01234567"  # DRF's 40 hex characters


@pytest.fixture
def plain_token(db: None) -> Iterator[User]:
    """DRF's authtoken table as a database from before 0006 has it, holding one key."""
    user = create_user(username="olduser")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, "
            "user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, CURRENT_TIMESTAMP, %s)", [PLAIN_KEY, user.pk]
        )
    yield user
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")


def migrate_tokens() -> None:
    # The step reads only the editor's connection; SQLite's real editor refuses to open
    # inside the test's transaction.
    MIGRATION.hash_plain_tokens(apps, SimpleNamespace(connection=connection))


def username_for(key: str) -> str | None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/me/")
    return str(response.json()["username"]) if response.status_code == 200 else None


def test_a_plain_token_keeps_working_once_hashed(plain_token: User) -> None:
    migrate_tokens()
    assert username_for(PLAIN_KEY) == "olduser"


def test_no_plain_token_is_left_after_the_migration(plain_token: User) -> None:
    migrate_tokens()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    assert PLAIN_KEY not in str(list(AuthToken.objects.values()))


def test_a_database_without_plain_tokens_is_left_alone(db: None) -> None:
    migrate_tokens()
    assert not AuthToken.objects.exists()
