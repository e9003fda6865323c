"""A real OpenID Connect provider (oidc-provider-mock) in a second process, and the console
configured to sign users in through it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.test.utils import override_settings

from console.sso.config import OidcConfig, authentication_backends, mozilla_settings
from tests.support.emulator import free_port

ROLE_MAP = {"gpu-admins": "admin", "ml": "operator"}


@dataclass(frozen=True)
class Provider:
    """The running provider: its URL, and a way to say who a user is and which groups."""

    url: str

    def set_user(self, subject: str, username: str, groups: list[str]) -> None:
        claims = {"preferred_username": username, "email": f"{username}@example.test",
                  "groups": groups}  # fmt: skip
        httpx.put(f"{self.url}/users/{subject}", json=claims, timeout=5).raise_for_status()

    def config(self, role_map: dict[str, str] = ROLE_MAP) -> OidcConfig:
        endpoints = {"authorization": f"{self.url}/oauth2/authorize",
                     "token": f"{self.url}/oauth2/token",
                     "userinfo": f"{self.url}/userinfo", "jwks": f"{self.url}/jwks"}  # fmt: skip
        return OidcConfig(client_id="console", client_secret="s3cret-client",
                          endpoints=endpoints, role_map=role_map, provider_name="Test IdP",
                          verify_key_id=False)  # fmt: skip

    def config_by_issuer(self, issuer: str | None = None) -> OidcConfig:
        """Only the issuer: the endpoints are read from its discovery document."""
        return OidcConfig(client_id="console", client_secret="s3cret-client", endpoints={},
                          role_map=ROLE_MAP, provider_name="Test IdP", verify_key_id=False,
                          issuer=issuer or self.url)  # fmt: skip


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"provider exited at start:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).is_success:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"provider not ready in 30 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log.open("wb") as out:
        command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(f"http://127.0.0.1:{port}", process, log)
            yield Provider(f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            process.wait(timeout=10)


def sign_on_settings(config: OidcConfig | None, *, local_login: bool = True) -> override_settings:
    return override_settings(
        CONSOLE_OIDC=config,
        CONSOLE_LOCAL_LOGIN=local_login,
        AUTHENTICATION_BACKENDS=authentication_backends(config, local_login),
        **mozilla_settings(config),
    )


@pytest.fixture
def sign_on(provider: Provider) -> Iterator[Provider]:
    """The console signing users in through ``provider`` (local accounts still on)."""
    with sign_on_settings(provider.config()):
        yield provider


def sign_in_through(client: Client, provider: Provider, subject: str) -> HttpResponseBase:
    """Click "Sign in with", pick ``subject`` at the provider, follow it back to the console."""
    start = client.get("/sso/start/")
    assert start.status_code == 302, start
    authorize = httpx.post(start["Location"], data={"sub": subject}, timeout=10)
    assert authorize.status_code == 302, authorize.text
    back = urlsplit(authorize.headers["location"])
    return client.get(f"{back.path}?{back.query}")
