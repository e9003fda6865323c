"""Deeply nested JSON is refused as bad input, audited, never a 500.

``json.loads`` recurses once per level: a body of 100,000 ``[`` used to raise
RecursionError, which nothing caught (an HTML 500 on the API, not audited). The gateway's
side is in ``tests/gateway/test_nested_json.py``.
"""

from __future__ import annotations

import pytest

from console.models import AuditEntry, Outcome
from console.roles import Role
from tests.reliability.api_world import World, build_world

pytestmark = pytest.mark.django_db

# Far past any recursion limit, and past the parser's bound of 32 levels: both refused.
TOO_DEEP = "[" * 100_000 + "]" * 100_000
NESTED_65 = '{"a":' * 65 + "1" + "}" * 65


@pytest.fixture
def world() -> World:
    return build_world()


def api_post(world: World, url: str, body: str) -> tuple[int, dict[str, object]]:
    client = world.client(Role.ADMIN)
    client.raise_request_exception = False  # see what a browser or a script would see
    response = client.post(url, body, content_type="application/json")
    return response.status_code, response.json()


@pytest.mark.parametrize("body", [TOO_DEEP, NESTED_65], ids=["100000-levels", "65-levels"])
def test_deeply_nested_json_on_instances_is_400_in_json_and_audited(
    world: World, body: str
) -> None:
    status, payload = api_post(world, "/api/instances/", body)
    assert status == 400
    assert "nested" in str(payload["detail"])
    entry = AuditEntry.objects.latest("pk")
    assert (entry.action, entry.outcome) == ("instance.create", Outcome.FAILED)
    assert entry.detail["status"] == 400


@pytest.mark.parametrize("body", [TOO_DEEP, NESTED_65], ids=["100000-levels", "65-levels"])
def test_deeply_nested_json_on_an_instance_action_is_400_in_json_and_audited(
    world: World, body: str
) -> None:
    status, payload = api_post(world, f"/api/instances/{world.instance.pk}/sleep/", body)
    assert status == 400
    assert "nested" in str(payload["detail"])
    entry = AuditEntry.objects.latest("pk")
    assert (entry.action, entry.outcome) == ("job.sleep", Outcome.FAILED)
    assert entry.target_id == str(world.instance.pk)


def test_json_nested_as_deep_as_allowed_still_parses(world: World) -> None:
    """The bound refuses only what no request needs: 32 levels reach the serializer."""
    body = '{"launch_env":' * 32 + "1" + "}" * 32
    status, payload = api_post(world, "/api/instances/", body)
    assert status == 400
    assert "nested" not in str(payload)
    assert "name" in payload, "the serializer judged the body: it was parsed"
