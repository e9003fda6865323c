"""Deeply nested JSON on ``/v1`` is an OpenAI-shaped 400, not a 500.

``json.loads`` of 100,000 ``[`` raised RecursionError, which the gateway answered with a
plain-text 500; a body nested past the gateway's bound is refused before any engine sees it.
"""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import bearer

BODIES = {
    "100000-levels": "[" * 100_000 + "]" * 100_000,
    "200-levels": '{"model":' * 200 + '"m"' + "}" * 200,
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_deeply_nested_json_on_v1_completions_is_an_openai_400(
    gateway: str, inference_key: str, body: str
) -> None:
    headers = {**bearer(inference_key), "content-type": "application/json"}
    response = httpx.post(f"{gateway}/v1/completions", content=body, headers=headers, timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert "nested" in error["message"]
