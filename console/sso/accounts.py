"""Signing a provider's user in: the console account it is, and the role its groups give.

The role is worked out again at every sign-on from the groups the provider sends: a user
moved to another group has the new role from that sign-on on; one left in no mapped group
(and no ``*`` fallback) is refused and keeps no role.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.http import HttpRequest

from console import audit
from console.models import Outcome, SignOnIdentity
from console.roles import GROUP_ROLES, Role, assign_role, revoke_role
from console.sso.config import ANY_GROUP, OidcConfig

log = logging.getLogger(__name__)

# Where the refusal's reason waits for the page that shows it (console.sso.views), and
# where the reason a sign-on could not even be tried (the provider unreachable) waits.
REFUSAL_SESSION_KEY = "sso_refusal"
UNAVAILABLE_SESSION_KEY = "sso_unavailable"


class SignOnRefusedError(Exception):
    """The provider vouched for the user, but the console will not sign them in."""


def role_for_groups(groups: Iterable[str], role_map: Mapping[str, str]) -> Role | None:
    """The highest role any of the groups maps to, else the ``*`` role, else None."""
    roles = [GROUP_ROLES[role_map[group]] for group in groups if group in role_map]
    if roles:
        return max(roles)
    fallback = role_map.get(ANY_GROUP)
    return GROUP_ROLES[fallback] if fallback else None


def claimed_groups(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The groups claim as a list (providers send a list, a few a single string)."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(group) for group in value]
    return []


def linked_user(subject: str) -> AbstractUser | None:
    identity = SignOnIdentity.objects.select_related("user").filter(subject=subject).first()
    return identity.user if identity is not None else None


def create_account(claims: Mapping[str, Any], config: OidcConfig) -> AbstractUser:
    """A new console user for the subject, named after the username claim (or the subject).

    A name already taken by an account not linked to this subject is refused rather than
    taken over: that account may be a local admin's.
    """
    subject = str(claims["sub"])
    username = str(claims.get(config.username_claim) or subject)[:150]
    users = get_user_model()._default_manager
    if users.filter(username=username).exists():
        raise SignOnRefusedError(
            f"the console already has an account named {username!r} that is not linked to "
            "this sign-on; an admin must rename or remove it first"
        )
    with transaction.atomic():
        user = users.create_user(username=username, email=str(claims.get("email") or ""))
        SignOnIdentity.objects.create(user=user, subject=subject)
    return user


def _signed_in_user(
    claims: Mapping[str, Any], config: OidcConfig, groups: list[str]
) -> tuple[AbstractUser, Role]:
    if not claims.get("sub"):
        raise SignOnRefusedError("the provider sent no subject (sub claim)")
    user = linked_user(str(claims["sub"]))
    role = role_for_groups(groups, config.role_map)
    if role is None:
        if user is not None:
            revoke_role(user)
        shown = ", ".join(groups) or "none"
        raise SignOnRefusedError(f"none of your groups ({shown}) gives a role in this console")
    user = user or create_account(claims, config)
    if not user.is_active:
        raise SignOnRefusedError("your console account is disabled")
    assign_role(user, role)
    return user, role


def sign_in(
    request: HttpRequest, claims: Mapping[str, Any], config: OidcConfig
) -> AbstractUser | None:
    """The user to log in, or None (refusal audited and kept for the refusal page)."""
    groups = claimed_groups(claims, config.groups_claim)
    detail: dict[str, Any] = {"via": "oidc", "groups": groups}
    try:
        user, role = _signed_in_user(claims, config, groups)
    except SignOnRefusedError as refused:
        actor = str(claims.get(config.username_claim) or claims.get("sub") or "")
        audit.record(request, "user.login", Outcome.REFUSED, target_type="user", actor=actor,
                     detail={**detail, "reason": str(refused)})  # fmt: skip
        request.session[REFUSAL_SESSION_KEY] = str(refused)
        return None
    audit.record(request, "user.login", Outcome.OK, target=user, actor=user.username,
                 detail={**detail, "role": role.label})  # fmt: skip
    return user


def unreachable(request: HttpRequest, config: OidcConfig, error: Exception) -> None:
    """A sign-on that cannot go on: the provider's configuration could not be read. Logged
    for the admin; the refusal page tells the user (password sign-in is unaffected)."""
    log.warning("sign-on: %s's configuration: %s", config.provider_name, error)
    request.session[UNAVAILABLE_SESSION_KEY] = (
        f"The console could not read {config.provider_name}'s configuration: {error}."
    )
