"""A NUL character in a URL is refused with a clear 400, never a database error."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.roles import Role
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> APIClient:
    client = APIClient()
    client.force_login(create_user(Role.ADMIN))
    return client


def test_a_nul_in_an_api_filter_gets_a_json_400(admin: APIClient) -> None:
    response = admin.get("/api/audit/?username=a%00b")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_in_a_page_query_gets_a_400(admin: APIClient) -> None:
    assert admin.get("/history/?subject=gpu%00").status_code == 400


def test_ordinary_queries_pass(admin: APIClient) -> None:
    assert admin.get("/api/audit/?username=ab").status_code == 200
