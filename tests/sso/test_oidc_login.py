"""Signing in through a real OpenID Connect provider: roles from groups, refusals, audit."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.models import AuditEntry, Outcome, SignOnIdentity
from console.roles import Role, assign_role, role_of
from tests.sso.conftest import Provider, sign_in_through, sign_on_settings

pytestmark = pytest.mark.django_db


def _user(username: str) -> User:
    return User.objects.get(username=username)


def test_login_page_offers_no_sign_on_when_it_is_not_configured(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page
    assert 'name="password"' in page


def test_login_page_offers_sign_on_when_configured(client: Client, sign_on: Provider) -> None:
    page = client.get("/login/").content.decode()
    assert "Sign in with Test IdP" in page
    assert 'name="password"' in page


def test_sign_on_routes_are_not_found_when_it_is_not_configured(client: Client) -> None:
    assert client.get("/sso/start/").status_code == 404
    assert client.get("/sso/callback/?code=x&state=y").status_code == 404


@pytest.mark.parametrize(
    ("groups", "role"),
    [(["gpu-admins"], Role.ADMIN), (["ml"], Role.OPERATOR), (["ml", "gpu-admins"], Role.ADMIN)],
)
def test_user_signs_in_with_the_role_their_groups_map_to(
    client: Client, sign_on: Provider, groups: list[str], role: Role
) -> None:
    sign_on.set_user(f"sub-{role.label}", f"user-{role.label}", groups)
    response = sign_in_through(client, sign_on, f"sub-{role.label}")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert role_of(_user(f"user-{role.label}")) == role
    assert client.get("/api/me/").json()["role"] == role.label


def test_user_whose_groups_change_gets_the_new_role_at_the_next_sign_in(
    client: Client, sign_on: Provider
) -> None:
    sign_on.set_user("sub-mover", "mover", ["ml"])
    sign_in_through(client, sign_on, "sub-mover")
    assert role_of(_user("mover")) == Role.OPERATOR
    client.logout()
    sign_on.set_user("sub-mover", "mover", ["gpu-admins"])
    sign_in_through(client, sign_on, "sub-mover")
    assert role_of(_user("mover")) == Role.ADMIN
    assert SignOnIdentity.objects.filter(subject="sub-mover").count() == 1


def test_user_in_no_mapped_group_is_refused_with_a_page_that_says_why(
    client: Client, sign_on: Provider
) -> None:
    sign_on.set_user("sub-stranger", "stranger", ["marketing"])
    response = sign_in_through(client, sign_on, "sub-stranger")
    assert response["Location"] == "/sso/refused/"
    page = client.get("/sso/refused/")
    assert page.status_code == 403
    assert "none of your groups (marketing) gives a role" in page.content.decode()
    assert client.get("/api/me/").status_code in (401, 403)


def test_user_removed_from_every_mapped_group_loses_their_role(
    client: Client, sign_on: Provider
) -> None:
    sign_on.set_user("sub-leaver", "leaver", ["ml"])
    sign_in_through(client, sign_on, "sub-leaver")
    client.logout()
    sign_on.set_user("sub-leaver", "leaver", [])
    response = sign_in_through(client, sign_on, "sub-leaver")
    assert response["Location"] == "/sso/refused/"
    assert role_of(_user("leaver")) is None


def test_star_maps_users_in_no_listed_group_to_a_default_role(
    client: Client, provider: Provider
) -> None:
    with sign_on_settings(provider.config({"gpu-admins": "admin", "*": "viewer"})):
        provider.set_user("sub-anyone", "anyone", ["marketing"])
        sign_in_through(client, provider, "sub-anyone")
    assert role_of(_user("anyone")) == Role.VIEWER


def test_sign_on_and_its_refusal_are_audited(client: Client, sign_on: Provider) -> None:
    sign_on.set_user("sub-audited", "audited", ["ml"])
    sign_in_through(client, sign_on, "sub-audited")
    client.logout()
    sign_on.set_user("sub-audited", "audited", ["marketing"])
    sign_in_through(client, sign_on, "sub-audited")
    entries = AuditEntry.objects.filter(action="user.login", username="audited").order_by("pk")
    ok, refused = list(entries)
    assert (ok.outcome, ok.detail["role"], ok.detail["via"]) == (Outcome.OK, "operator", "oidc")
    assert refused.outcome == Outcome.REFUSED
    assert refused.detail["groups"] == ["marketing"]


def test_sign_on_does_not_take_over_a_local_account_of_the_same_name(
    client: Client, sign_on: Provider
) -> None:
    local = User.objects.create_user("root-admin", password="a-long-password-1")
    assign_role(local, Role.ADMIN)
    sign_on.set_user("sub-impostor", "root-admin", ["ml"])
    response = sign_in_through(client, sign_on, "sub-impostor")
    assert response["Location"] == "/sso/refused/"
    assert "already has an account named" in client.get("/sso/refused/").content.decode()
    assert not SignOnIdentity.objects.filter(user=local).exists()
    assert role_of(_user("root-admin")) == Role.ADMIN


def test_local_accounts_keep_working_beside_sign_on(client: Client, sign_on: Provider) -> None:
    User.objects.create_user("local", password="a-long-password-1")
    response = client.post("/login/", {"username": "local", "password": "a-long-password-1"})
    assert response.status_code == 302


def test_local_accounts_can_be_disabled(client: Client, provider: Provider) -> None:
    User.objects.create_user("local", password="a-long-password-1")
    with sign_on_settings(provider.config(), local_login=False):
        page = client.get("/login/").content.decode()
        response = client.post("/login/", {"username": "local", "password": "a-long-password-1"})
    assert 'name="password"' not in page
    assert response.status_code == 403
    assert client.get("/api/me/").status_code in (401, 403)
    refusal = AuditEntry.objects.get(action="user.login", username="local")
    assert refusal.detail["reason"] == "local accounts are disabled"
