"""Sign-on settings from the environment: loud on anything that cannot work."""

from __future__ import annotations

import pytest

from console.env import ConfigError, Env
from console.sso.config import (
    authentication_backends,
    mozilla_settings,
    oidc_config,
    parse_role_map,
)

FULL = {
    "CONSOLE_OIDC_CLIENT_ID": "console",
    "CONSOLE_OIDC_CLIENT_SECRET": "secret",
    "CONSOLE_OIDC_AUTHORIZATION_URL": "https://idp.example/authorize",
    "CONSOLE_OIDC_TOKEN_URL": "https://idp.example/token",
    "CONSOLE_OIDC_USERINFO_URL": "https://idp.example/userinfo",
    "CONSOLE_OIDC_JWKS_URL": "https://idp.example/jwks",
    "CONSOLE_OIDC_ROLE_MAP": "gpu-admins=admin, ml=operator, *=viewer",
}


def test_role_map_reads_group_equals_role_pairs() -> None:
    assert parse_role_map("gpu-admins=admin,ml=operator,*=viewer") == {
        "gpu-admins": "admin", "ml": "operator", "*": "viewer",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "message"),
    [("ml=root", "ROLE one of viewer, operator, admin"), ("ml", "is not GROUP=ROLE"),
     ("ml=admin,ml=viewer", "mapped twice"), (" , ", "maps no group")],
)  # fmt: skip
def test_role_map_refuses_what_it_cannot_use(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_role_map(raw)


def test_sign_on_is_off_without_a_client_id() -> None:
    assert oidc_config(Env({})) is None


def test_sign_on_needs_every_endpoint_once_a_client_id_is_set() -> None:
    values = {key: value for key, value in FULL.items() if key != "CONSOLE_OIDC_JWKS_URL"}
    with pytest.raises(ConfigError, match="set CONSOLE_OIDC_JWKS_URL too"):
        oidc_config(Env(values))


def test_an_issuer_stands_in_for_the_endpoints_it_publishes() -> None:
    values = {key: value for key, value in FULL.items() if not key.endswith("_URL")}
    values.update(CONSOLE_OIDC_ISSUER="https://idp.example/realms/gpu",
                  CONSOLE_OIDC_TOKEN_URL="https://idp.example/own-token")  # fmt: skip
    config = oidc_config(Env(values))
    assert config is not None
    assert config.issuer == "https://idp.example/realms/gpu"
    assert config.endpoints == {"token": "https://idp.example/own-token"}
    # The library gets the endpoint set by hand; the others are filled in at sign-on.
    oidc = mozilla_settings(config)
    assert oidc["OIDC_OP_TOKEN_ENDPOINT"] == "https://idp.example/own-token"
    assert "OIDC_OP_AUTHORIZATION_ENDPOINT" not in oidc


def test_without_an_issuer_every_endpoint_is_named_in_the_error() -> None:
    values = {key: value for key, value in FULL.items() if not key.endswith("_URL")}
    with pytest.raises(ConfigError, match=r"CONSOLE_OIDC_JWKS_URL too \(or CONSOLE_OIDC_ISSUER\)"):
        oidc_config(Env(values))


def test_an_issuer_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"CONSOLE_OIDC_ISSUER: 'idp\.example' is not an http"):
        oidc_config(Env({**FULL, "CONSOLE_OIDC_ISSUER": "idp.example"}))


def test_sign_on_reads_the_groups_claim_and_provider_name() -> None:
    values = {**FULL, "CONSOLE_OIDC_GROUPS_CLAIM": "roles", "CONSOLE_OIDC_PROVIDER_NAME": "Okta"}
    config = oidc_config(Env(values))
    assert config is not None
    assert (config.groups_claim, config.provider_name) == ("roles", "Okta")
    assert config.role_map["*"] == "viewer"


def test_local_login_cannot_be_turned_off_without_sign_on() -> None:
    with pytest.raises(ConfigError, match="CONSOLE_LOCAL_LOGIN=0 needs single sign-on"):
        authentication_backends(None, local_login=False)


def test_the_client_secret_stays_out_of_the_settings_repr() -> None:
    config = oidc_config(Env({**FULL, "CONSOLE_OIDC_CLIENT_SECRET": "hunter2-secret"}))
    assert "hunter2-secret" not in repr(config)
