"""Schemathesis over every operation of ``/api/schema/``, as admin and as viewer.

Whatever the generated input (ids, bodies, query strings), the API answers without a
server error, and every error carries a JSON object body a client can show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err, Ok
from schemathesis.errors import InvalidSchema

from console.api.tokens import new_token
from console.roles import Role
from tests.console.conftest import fast_password_hashing
from tests.reliability.api_world import World, build_world

__all__ = ["fast_password_hashing"]

pytestmark = pytest.mark.slow

ROLES = (Role.ADMIN, Role.VIEWER)
# Valid inputs and inputs that break the schema (wrong types, missing fields, bad formats).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Generated inputs per operation (each sent once per role).
EXAMPLES = 40


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture
def tokens(world: World) -> dict[Role, str]:
    return {role: new_token(world.users[role]) for role in ROLES}


@pytest.fixture
def api_schema(tokens: dict[Role, str]) -> Iterator[schemathesis.BaseSchema]:
    """The schema as the console serves it, called in-process through Django's WSGI handler.

    The handler closes the database connection around each request, which would end the
    test's transaction: Django's own test client unhooks these signals the same way.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json",
            WSGIHandler(),
            headers={"Authorization": f"Token {tokens[Role.ADMIN]}"},
        )
        yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def assert_clear_answer(case: Case[Any], status: int, body: bytes, role: Role) -> None:
    where = f"{case.method} {case.formatted_path} as {role.name.lower()}"
    assert status < 500, f"{where}: {status} {body[:300]!r}"
    if status >= 400:
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        assert isinstance(parsed, dict), f"{where}: {status} {body[:300]!r}"
        assert parsed, f"{where}: {status} with an empty body"


def fuzz(operation: APIOperation[Any, Any, Any, Any], tokens: dict[Role, str]) -> int:
    """Call ``operation`` with generated inputs as each role; returns how many calls."""
    calls = 0

    @given(case=st.sampled_from(MODES).flatmap(lambda mode: operation.as_strategy(mode)))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same inputs on every run: a red CI run can be reproduced
    )
    def check(case: Case[Any]) -> None:
        nonlocal calls
        # An id that is not digits matches no route: the catch-all JSON 404 view is not
        # CSRF-exempt, so an unsafe method gets Django's HTML 403 CSRF page (reported).
        for role in ROLES:
            response = case.call(headers={"Authorization": f"Token {tokens[role]}"})
            assert_clear_answer(case, response.status_code, response.content, role)
            calls += 1

    check()
    return calls


def loaded(
    result: Ok[APIOperation[Any, Any, Any, Any]] | Err[InvalidSchema],
) -> APIOperation[Any, Any, Any, Any]:
    """The operation, or the schema's own error when it cannot be read (fails the test)."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def test_no_operation_answers_a_server_error_or_a_non_json_error(
    api_schema: schemathesis.BaseSchema, tokens: dict[Role, str]
) -> None:
    operations = list(map(loaded, api_schema.get_all_operations()))
    assert len(operations) >= 20
    calls = sum(fuzz(operation, tokens) for operation in operations)
    assert calls >= len(operations) * len(ROLES)
