"""Every URL x every kind of caller answers as the role matrix says."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from console.api.tokens import new_token
from console.models import JobState
from console.models.gateway import InferenceKey
from console.models.notifications import NotificationRule
from console.roles import Role
from tests.console.conftest import create_host, create_instance, create_job, create_user
from tests.console.role_matrix import (
    ROWS,
    Principal,
    Row,
    all_routes,
)

CASES = [(row, who) for row in ROWS for who in Principal]


def signed_in(user: User) -> APIClient:
    """Both credentials: the API reads the token first, pages the session."""
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_token(user)}")
    return client


def client_for(who: Principal) -> APIClient:
    if who == Principal.ANONYMOUS:
        return APIClient()
    if who == Principal.BAD_TOKEN:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
        return client
    if who == Principal.INACTIVE:
        return signed_in(create_user(Role.ADMIN, active=False))
    return signed_in(create_user(Role[who.name]))


def test_every_url_pattern_has_a_row() -> None:
    assert set(all_routes()) - {row.route for row in ROWS} == set()


def test_every_row_names_an_existing_url_pattern() -> None:
    assert {row.route for row in ROWS} - set(all_routes()) == set()


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "who"), CASES, ids=[f"{r.method}-{r.url}-{w}" for r, w in CASES])
def test_role_matrix(row: Row, who: Principal) -> None:
    instance = create_instance()
    host = create_host()
    job = create_job(instance, state=JobState.SUCCEEDED)
    key, _ = InferenceKey.issue("matrix", [])
    user = create_user(Role.VIEWER)
    rule = NotificationRule.objects.create(name="matrix", url="json://127.0.0.1:9/h")
    url = row.url.format(
        instance=instance.pk, job=job.pk, host=host.pk, key=key.pk, user=user.pk, rule=rule.pk
    )
    client = client_for(who)
    response = getattr(client, row.method)(url, dict(row.body), format="json")
    assert response.status_code == row.expect[who], response.content[:300]
