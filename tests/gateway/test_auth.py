"""Inference keys on /v1: no key, a wrong or revoked key, a key limited to other models."""

from __future__ import annotations

import time

import httpx
from django.utils import timezone

from console.models import InstanceState
from console.models.gateway import InferenceKey, hash_key
from tests.gateway.conftest import bearer, post_completion, register
from tests.support.emulator import EmulatorProcess


def test_request_without_a_key_gets_401_in_openai_shape(
    gateway: str, transactional_db: None
) -> None:
    response = httpx.get(f"{gateway}/v1/models")
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"


def test_unknown_key_gets_401(gateway: str, transactional_db: None) -> None:
    response = httpx.get(f"{gateway}/v1/models", headers=bearer("vlc-not-a-key"))
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_revoked_key_gets_401(gateway: str, inference_key: str) -> None:
    InferenceKey.objects.filter(key_hash=hash_key(inference_key)).update(revoked_at=timezone.now())
    response = httpx.get(f"{gateway}/v1/models", headers=bearer(inference_key))
    assert response.status_code == 401


def test_key_issued_a_moment_ago_works_at_once(gateway: str, transactional_db: None) -> None:
    httpx.get(f"{gateway}/v1/models", headers=bearer("vlc-wrong"))  # the table reloads now
    _, key = InferenceKey.issue("fresh", [])
    assert httpx.get(f"{gateway}/v1/models", headers=bearer(key)).status_code == 200


def test_key_limited_to_other_models_gets_403(
    gateway: str, transactional_db: None, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha")
    _, key = InferenceKey.issue("limited", ["test/other"])
    response = post_completion(gateway, key, "test/alpha")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "model_not_allowed"


def test_models_lists_only_what_the_key_may_use(
    gateway: str, transactional_db: None, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha")
    register(alpha, "beta")
    _, key = InferenceKey.issue("limited", ["test/beta"])
    response = httpx.get(f"{gateway}/v1/models", headers=bearer(key))
    assert response.status_code == 200
    assert [card["id"] for card in response.json()["data"]] == ["test/beta"]


def test_a_model_card_is_answered_for_a_model_the_key_may_use_asleep_or_not(
    gateway: str, transactional_db: None, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha", state=InstanceState.SLEEPING, sleep_level=2)
    register(alpha, "beta")
    _, key = InferenceKey.issue("limited", ["test/alpha"])
    card = httpx.get(f"{gateway}/v1/models/test/alpha", headers=bearer(key))
    assert card.status_code == 200
    assert card.json() == {"id": "test/alpha", "object": "model", "owned_by": "vllm-console",
                           "created": card.json()["created"]}  # fmt: skip
    for hidden in ("test/beta", "test/nothing"):  # not allowed reads as not there
        missing = httpx.get(f"{gateway}/v1/models/{hidden}", headers=bearer(key))
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "model_not_found"
    assert "/v1/models" not in alpha.log_text(), "answered by the gateway, not the engine"


def test_key_use_is_stamped_on_the_key(
    gateway: str, inference_key: str, alpha: EmulatorProcess
) -> None:
    register(alpha, "alpha")
    assert post_completion(gateway, inference_key, "test/alpha").status_code == 200
    row = InferenceKey.objects.get(key_hash=hash_key(inference_key))
    deadline = time.monotonic() + 5
    while row.last_used_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
        row.refresh_from_db()
    assert row.last_used_at is not None
