"""The provider's endpoints read from its discovery document (``CONSOLE_OIDC_ISSUER``).

The whole code flow runs against the real provider (oidc-provider-mock) configured by its
issuer only; a provider that cannot be reached leaves password sign-in working and says why
on the refusal page; documents that cannot be used are refused with the reason.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.roles import Role, assign_role, role_of
from console.sso.discovery import DiscoveryError, read_endpoints
from tests.sso.conftest import Provider, sign_in_through, sign_on_settings
from tests.support.emulator import free_port

pytestmark = pytest.mark.django_db


def test_a_provider_named_by_its_issuer_alone_signs_users_in(
    client: Client, provider: Provider
) -> None:
    provider.set_user("sub-found", "found", ["gpu-admins"])
    with sign_on_settings(provider.config_by_issuer()):
        response = sign_in_through(client, provider, "sub-found")
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert client.get("/api/me/").json()["role"] == "admin"
    assert role_of(User.objects.get(username="found")) == Role.ADMIN


def test_an_unreachable_provider_is_explained_and_passwords_still_work(
    client: Client, provider: Provider, django_user_model: type[User]
) -> None:
    assign_role(django_user_model.objects.create_user("local", password="a-long-local-pass"),
                Role.VIEWER)  # fmt: skip
    closed = f"http://127.0.0.1:{free_port()}"
    with sign_on_settings(provider.config_by_issuer(closed)):
        start = client.get("/sso/start/")
        assert (start.status_code, start["Location"]) == (302, "/sso/refused/")
        page = client.get("/sso/refused/")
        text = page.content.decode()
        assert page.status_code == 403
        assert "Sign-on unavailable" in text
        assert f"{closed}/.well-known/openid-configuration could not be read" in text
        assert "sign in with a console password" in text
        login = client.post("/login/", {"username": "local", "password": "a-long-local-pass"})
        assert login.status_code == 302
        assert client.get("/api/me/").json()["username"] == "local"


def test_a_provider_lost_between_start_and_callback_is_explained(
    client: Client, provider: Provider
) -> None:
    provider.set_user("sub-late", "late", ["ml"])
    with sign_on_settings(provider.config_by_issuer()):
        start = client.get("/sso/start/")
        authorize = httpx.post(start["Location"], data={"sub": "sub-late"}, timeout=10)
    back = urlsplit(authorize.headers["location"])
    with sign_on_settings(provider.config_by_issuer(f"http://127.0.0.1:{free_port()}")):
        response = client.get(f"{back.path}?{back.query}")
        assert (response.status_code, response["Location"]) == (302, "/sso/refused/")
        assert "could not be read" in client.get("/sso/refused/").content.decode()
    assert not User.objects.filter(username="late").exists()


def test_a_wrong_issuer_path_is_named(client: Client, provider: Provider) -> None:
    with sign_on_settings(provider.config_by_issuer(f"{provider.url}/realms/none")):
        client.get("/sso/start/")
        text = client.get("/sso/refused/").content.decode()
    assert "answered 404, not the provider&#x27;s configuration" in text
    assert "check CONSOLE_OIDC_ISSUER" in text


ISSUER = "https://idp.example/realms/gpu"
DOCUMENT = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/auth",
    "token_endpoint": f"{ISSUER}/token",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "jwks_uri": f"{ISSUER}/certs",
}


def test_a_document_gives_the_four_endpoints() -> None:
    assert read_endpoints(ISSUER + "/", DOCUMENT) == {
        "authorization": f"{ISSUER}/auth", "token": f"{ISSUER}/token",
        "userinfo": f"{ISSUER}/userinfo", "jwks": f"{ISSUER}/certs",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([DOCUMENT], "is not a JSON object"),
        ({**DOCUMENT, "issuer": "https://evil.example"}, "names the issuer 'https://evil.example'"),
        ({k: v for k, v in DOCUMENT.items() if k != "issuer"}, "names the issuer 'None'"),
        ({k: v for k, v in DOCUMENT.items() if k != "jwks_uri"}, "gives no URL for jwks_uri"),
        ({**DOCUMENT, "token_endpoint": "javascript:alert(1)"}, "no URL for token_endpoint"),
        ({**DOCUMENT, "userinfo_endpoint": {"nested": [1]}}, "no URL for userinfo_endpoint"),
    ],
)
def test_a_document_that_cannot_be_used_is_refused(document: Any, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message):
        read_endpoints(ISSUER, document)
