"""createadmin, adduser and issue_token: non-interactive, one clear line on failure."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from console.models import AuditEntry
from console.roles import Role, role_of


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def last_line_fields(output: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in output.strip().splitlines()[-1].split())


def test_createadmin_generates_and_prints_a_working_password(db: None) -> None:
    fields = last_line_fields(run("createadmin", "--username", "root"))
    assert fields["username"] == "root"
    user = authenticate(username="root", password=fields["password"])
    assert user is not None
    assert role_of(user) == Role.ADMIN


def test_createadmin_takes_the_password_from_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSOLE_ADMIN_PASSWORD", "a-long-chosen-password")
    output = run("createadmin", "--username", "root", "--email", "root@example.org")
    assert "a-long-chosen-password" not in output
    assert last_line_fields(output) == {"username": "root"}
    assert authenticate(username="root", password="a-long-chosen-password") is not None
    assert User.objects.get(username="root").email == "root@example.org"


def test_createadmin_if_missing_does_nothing_when_an_admin_exists(admin: User) -> None:
    output = run("createadmin", "--username", "second", "--if-missing")
    assert output.strip() == "an admin exists; nothing done"
    assert not User.objects.filter(username="second").exists()


def test_createadmin_if_missing_creates_when_only_inactive_admins_exist(
    inactive_user: User,
) -> None:
    run("createadmin", "--username", "second", "--if-missing")
    assert User.objects.filter(username="second").exists()


def test_createadmin_refuses_an_existing_username(admin: User) -> None:
    with pytest.raises(CommandError, match="user 'ada' already exists"):
        run("createadmin", "--username", "ada")


def test_createadmin_refuses_a_weak_password(db: None) -> None:
    with pytest.raises(CommandError, match=r"password refused: .*too short"):
        run("createadmin", "--username", "root", "--password", "abc")


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_adduser_gives_the_role(db: None, role: str) -> None:
    fields = last_line_fields(run("adduser", "pat", "--role", role, "--password", "pat-pass-1234"))
    assert fields == {"username": "pat", "role": role}
    assert role_of(User.objects.get(username="pat")) == Role[role.upper()]


def test_adduser_prints_a_generated_password(db: None) -> None:
    fields = last_line_fields(run("adduser", "pat", "--role", "viewer"))
    assert authenticate(username="pat", password=fields["password"]) is not None


def test_adduser_refuses_an_unknown_role(db: None) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run("adduser", "pat", "--role", "root")


def api_user(key: str) -> str | None:
    """Who ``Authorization: Token <key>`` signs in as (None: refused)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/me/")
    return str(response.json()["username"]) if response.status_code == 200 else None


def test_issue_token_prints_a_token_that_authenticates(viewer: User) -> None:
    key = run("issue_token", "vera").strip()
    assert api_user(key) == "vera"


def test_issue_token_stores_only_a_hash_of_the_token(viewer: User) -> None:
    # DRF's authtoken kept the key itself in the database: a copy of it signs in.
    key = run("issue_token", "vera").strip()
    stored = AuthToken.objects.values().get(user=viewer)
    assert stored["digest"] == hashlib.sha512(key.encode()).hexdigest()
    assert key not in str(stored)


def test_issue_token_rotates_the_previous_token(viewer: User) -> None:
    first = run("issue_token", "vera").strip()
    second = run("issue_token", "vera").strip()
    assert first != second
    assert AuthToken.objects.filter(user=viewer).count() == 1
    assert api_user(first) is None
    assert api_user(second) == "vera"


def test_issue_token_for_an_unknown_user_is_one_line_error(db: None) -> None:
    with pytest.raises(CommandError, match=r"^no user named 'ghost'$"):
        run("issue_token", "ghost")


def test_user_creation_and_token_issue_are_audited(db: None) -> None:
    run("adduser", "pat", "--role", "operator")
    run("issue_token", "pat")
    entries = AuditEntry.objects.order_by("id")
    assert [(e.action, e.username, e.target_repr) for e in entries] == [
        ("user.create", "manage.py", "pat"),
        ("token.issue", "manage.py", "pat"),
    ]
    assert entries[0].detail == {"role": "operator"}
