"""A key's limits changed by an admin, on the Keys page or with PATCH, are what the running
gateway (uvicorn, a real emulator) enforces from the next request on."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from django.test import Client
from rest_framework.test import APIClient

from console.models.gateway import InferenceKey
from console.roles import Role
from tests.console.conftest import create_user
from tests.gateway.conftest import post_completion, register
from tests.support.emulator import EmulatorProcess

Edit = Callable[[InferenceKey, int], int]


def on_the_page(row: InferenceKey, requests_per_minute: int) -> int:
    page = Client()
    page.force_login(create_user(Role.ADMIN))
    form = {"requests_per_minute": str(requests_per_minute), "tokens_per_minute": "",
            "max_concurrent": ""}  # fmt: skip
    return page.post(f"/keys/{row.pk}/limits/", form).status_code


def with_patch(row: InferenceKey, requests_per_minute: int) -> int:
    api = APIClient()
    api.force_authenticate(create_user(Role.ADMIN))
    body = {"requests_per_minute": requests_per_minute}
    return api.patch(f"/api/inference-keys/{row.pk}/", body, format="json").status_code


@pytest.mark.parametrize(("edit", "answer"), [(on_the_page, 302), (with_patch, 200)])
def test_a_limit_set_on_a_key_in_use_is_enforced_from_the_next_request(
    gateway: str, inference_key: str, alpha: EmulatorProcess, edit: Edit, answer: int
) -> None:
    register(alpha, "alpha")
    # Used first, so the gateway holds the key, without limits, in its table.
    unlimited = [post_completion(gateway, inference_key, "test/alpha") for _ in range(3)]
    assert [response.status_code for response in unlimited] == [200, 200, 200]
    assert edit(InferenceKey.objects.get(), 1) == answer
    statuses = [post_completion(gateway, inference_key, "test/alpha") for _ in range(2)]
    assert [response.status_code for response in statuses] == [200, 429]
    assert_over_requests_per_minute(statuses[1])


def assert_over_requests_per_minute(response: httpx.Response) -> None:
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("rate_limit_exceeded", "requests_per_minute")
    assert int(response.headers["retry-after"]) >= 1
