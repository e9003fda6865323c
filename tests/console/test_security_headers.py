"""A Content-Security-Policy on every page, HSTS and the HTTPS redirect
configurable (on by default in production, behind a TLS proxy), and answers that show a
new key never cached."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.roles import Role
from tests.console.conftest import ClientFactory, create_user
from tests.console.test_settings import manage

pytestmark = pytest.mark.django_db

PAGES = ["/", "/history/", "/audit/", "/keys/", "/hosts/", "/users/", "/tokens/", "/api/docs/",
         "/api/instances/"]  # fmt: skip


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.fixture
def admin_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.ADMIN))
    return client


@pytest.mark.parametrize("path", [*PAGES, "/login/"])
def test_every_page_has_a_content_security_policy(admin_page: Client, path: str) -> None:
    policy = directives(admin_page.get(path)["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "no inline script, no other origin"
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]


def test_the_pages_have_no_inline_script_the_policy_would_block(admin_page: Client) -> None:
    for path in PAGES[:4]:
        html = admin_page.get(path).content.decode()
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            assert "src=" in attributes or 'type="application/json"' in attributes, (path, body)
        assert not re.search(r"\son[a-z]+\s*=", html), path


def test_the_api_docs_load_their_start_up_script_from_the_console(admin_page: Client) -> None:
    html = admin_page.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all("src=" in attributes and not body.strip() for attributes, body in scripts)
    script = admin_page.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_page_that_shows_a_new_key_is_never_stored(admin_page: Client) -> None:
    response = admin_page.post("/keys/", {"name": "app"})
    assert response.context["issued_key"]
    assert "no-store" in response["Cache-Control"]


def test_the_api_answer_with_a_new_key_is_never_stored(
    admin: User, token_client: ClientFactory
) -> None:
    response = token_client(admin).post("/api/inference-keys/", {"name": "ci"}, format="json")
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]


def deploy_check(tmp_path: Path, **env: str) -> str:
    key = secrets.token_urlsafe(50)
    result = manage(
        tmp_path, "check", "--deploy", CONSOLE_PRODUCTION="1", CONSOLE_SECRET_KEY=key, **env
    )
    return result.stdout + result.stderr


def test_check_deploy_in_production_warns_of_nothing(tmp_path: Path) -> None:
    output = deploy_check(tmp_path)
    assert "security.W004" not in output, output
    assert "security.W008" not in output, output
    assert "no issues" in output, output


def test_hsts_and_the_https_redirect_can_be_turned_off(tmp_path: Path) -> None:
    output = deploy_check(tmp_path, CONSOLE_HSTS_SECONDS="0", CONSOLE_SSL_REDIRECT="0")
    assert "security.W004" in output
    assert "security.W008" in output


def test_hsts_is_never_sent_over_plain_http() -> None:
    assert "Strict-Transport-Security" not in Client().get("/login/")


def test_behind_the_tls_proxy_https_answers_carry_hsts(settings: Any) -> None:
    # In production the proxy's X-Forwarded-Proto marks HTTPS requests (CONSOLE_TLS_PROXY).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # built after the settings: middleware reads them once
    secure = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")
    redirected = client.get("/login/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")
