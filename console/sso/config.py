"""Single sign-on settings read from the environment; importable before Django is set up.

``CONSOLE_OIDC_CLIENT_ID`` turns sign-on on; the client secret and either the provider's
issuer (its endpoints are then read from its discovery document, ``console.sso.discovery``)
or each of its endpoints are then required. ``CONSOLE_OIDC_ROLE_MAP`` maps provider groups
to roles, e.g. ``gpu-admins=admin,ml=operator,*=viewer`` (``*``: anyone the provider signs
in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from console.env import ConfigError, Env

ROLE_LABELS = ("viewer", "operator", "admin")
ANY_GROUP = "*"
_ENDPOINTS = {
    "authorization": "CONSOLE_OIDC_AUTHORIZATION_URL",
    "token": "CONSOLE_OIDC_TOKEN_URL",
    "userinfo": "CONSOLE_OIDC_USERINFO_URL",
    "jwks": "CONSOLE_OIDC_JWKS_URL",
}
# The mozilla-django-oidc setting of each endpoint.
ENDPOINT_SETTINGS = {
    "authorization": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo": "OIDC_OP_USER_ENDPOINT",
    "jwks": "OIDC_OP_JWKS_ENDPOINT",
}


@dataclass(frozen=True)
class OidcConfig:
    """What the console needs to know about its OpenID Connect provider."""

    client_id: str
    # Kept out of repr: Django's debug page shows settings' values, and hides only those
    # whose names look secret (OIDC_RP_CLIENT_SECRET), not a field of this one.
    client_secret: str = field(repr=False)
    endpoints: Mapping[str, str]  # those set by their own variable (all four without issuer)
    role_map: Mapping[str, str]
    issuer: str | None = None
    provider_name: str = "single sign-on"
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    sign_algo: str = "RS256"
    # Some providers with a single signing key leave the key id out of their tokens
    # (oidc-provider-mock 0.3 does); the signature is still checked against their JWKS.
    verify_key_id: bool = True


def parse_role_map(raw: str, *, setting: str = "CONSOLE_OIDC_ROLE_MAP") -> dict[str, str]:
    """``"a=admin,b=operator,*=viewer"`` -> ``{"a": "admin", ...}``; loud on anything else."""
    role_map: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        group, sep, role = (text.strip() for text in item.partition("="))
        if not sep or not group or role not in ROLE_LABELS:
            raise ConfigError(
                f"{setting}: {item!r} is not GROUP=ROLE with ROLE one of {', '.join(ROLE_LABELS)}"
            )
        if group in role_map:
            raise ConfigError(f"{setting}: group {group!r} is mapped twice")
        role_map[group] = role
    if not role_map:
        raise ConfigError(f"{setting} maps no group to a role: nobody could sign in")
    return role_map


def oidc_config(env: Env) -> OidcConfig | None:
    """The provider's settings, or None when sign-on is not configured."""
    client_id = env.optional("CONSOLE_OIDC_CLIENT_ID")
    if client_id is None:
        return None
    issuer = env.optional("CONSOLE_OIDC_ISSUER")
    if issuer is not None and not issuer.startswith(("https://", "http://")):
        raise ConfigError(f"CONSOLE_OIDC_ISSUER: {issuer!r} is not an http(s) URL")
    # With an issuer, the endpoints come from its discovery document unless set one by one.
    endpoints = tuple(_ENDPOINTS.values()) if issuer is None else ()
    required = (*endpoints, "CONSOLE_OIDC_CLIENT_SECRET", "CONSOLE_OIDC_ROLE_MAP")
    missing = [name for name in required if env.optional(name) is None]
    if missing:
        raise ConfigError(f"CONSOLE_OIDC_CLIENT_ID is set, so set {', '.join(missing)} too"
                          + (" (or CONSOLE_OIDC_ISSUER)" if endpoints else ""))  # fmt: skip
    return OidcConfig(
        client_id=client_id,
        client_secret=env.string("CONSOLE_OIDC_CLIENT_SECRET", ""),
        endpoints={key: value for key, name in _ENDPOINTS.items() if (value := env.optional(name))},
        role_map=parse_role_map(env.string("CONSOLE_OIDC_ROLE_MAP", "")),
        issuer=issuer,
        provider_name=env.string("CONSOLE_OIDC_PROVIDER_NAME", "single sign-on"),
        scopes=env.string("CONSOLE_OIDC_SCOPES", "openid email profile"),
        groups_claim=env.string("CONSOLE_OIDC_GROUPS_CLAIM", "groups"),
        username_claim=env.string("CONSOLE_OIDC_USERNAME_CLAIM", "preferred_username"),
        sign_algo=env.string("CONSOLE_OIDC_SIGN_ALGO", "RS256"),
        verify_key_id=env.boolean("CONSOLE_OIDC_VERIFY_KEY_ID", True),
    )


def mozilla_settings(config: OidcConfig | None) -> dict[str, object]:
    """The ``OIDC_*`` settings mozilla-django-oidc reads (none when sign-on is off)."""
    if config is None:
        return {}
    # Endpoints left to discovery are filled in at sign-on (console.sso.backend).
    endpoints = {ENDPOINT_SETTINGS[name]: url for name, url in config.endpoints.items()}
    return {
        "OIDC_RP_CLIENT_ID": config.client_id,
        "OIDC_RP_CLIENT_SECRET": config.client_secret,
        **endpoints,
        "OIDC_RP_SIGN_ALGO": config.sign_algo,
        "OIDC_RP_SCOPES": config.scopes,
        "OIDC_VERIFY_KID": config.verify_key_id,
        "OIDC_TIMEOUT": 10,
    }


def authentication_backends(config: OidcConfig | None, local_login: bool) -> list[str]:
    """Password sign-in stays unless turned off; turned off, sign-on must be on."""
    if not local_login and config is None:
        raise ConfigError("CONSOLE_LOCAL_LOGIN=0 needs single sign-on (CONSOLE_OIDC_CLIENT_ID)")
    backends = ["console.sso.backend.ConsoleOidcBackend"] if config is not None else []
    if local_login:
        backends.append("django.contrib.auth.backends.ModelBackend")
    return backends
