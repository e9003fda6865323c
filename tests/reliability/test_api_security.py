"""The API and forms against misuse: CSRF, secrets, base URLs, the audit trail.

Operations come from the OpenAPI schema, so an endpoint added later is swept too.
"""

from __future__ import annotations

import pytest
from django.test import Client

from console.models import AuditEntry, InferenceKey, Outcome
from console.roles import Role
from console.web import urls as web_urls
from tests.console.conftest import PASSWORD, fast_password_hashing
from tests.reliability.api_world import API_KEY, ENV_VALUE, World, build_world

__all__ = ["fast_password_hashing"]

pytestmark = pytest.mark.django_db

BAD_BASE_URLS = [
    "javascript:alert(1)",
    "file:///etc/passwd",
    "ftp://gpu-1:8000",
    "gopher://gpu-1:70",
    "http://",
    "http:///sleep",
    "//gpu-1:8000",
    "gpu-1:8000",
    "http://user:pw@gpu-1:8000",
    "http://gpu-1:8000/v1/../sleep",
    "http://gpu-1:notaport",
    "",
]


@pytest.fixture
def world() -> World:
    return build_world()


def test_every_state_changing_api_operation_refuses_a_session_without_csrf_token(
    world: World,
) -> None:
    mutating = [op for op in world.operations() if op.mutating]
    assert len(mutating) >= 9
    client = world.client(Role.ADMIN, csrf=True)
    for op in mutating:
        response = getattr(client, op.method)(op.url, {}, format="json")
        assert response.status_code == 403, (op, response.status_code)
        assert "CSRF" in response.json()["detail"], op


def test_login_and_logout_forms_refuse_a_post_without_csrf_token(world: World) -> None:
    anonymous = Client(enforce_csrf_checks=True)
    response = anonymous.post("/login/", {"username": "sweep-admin", "password": PASSWORD})
    assert response.status_code == 403
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(world.users[Role.ADMIN])
    assert signed_in.post("/logout/").status_code == 403
    assert signed_in.get("/").status_code == 200, "still signed in"


def page_urls(world: World, key: InferenceKey) -> list[str]:
    """Every page route, its id filled in with a row that exists."""
    urls = []
    for pattern in web_urls.urlpatterns:
        route = "/" + str(pattern.pattern)
        pk = key.pk if route.startswith("/keys/") else world.instance.pk
        urls.append(route.replace("<int:pk>", str(pk)))
    return urls


def test_every_page_refuses_a_post_without_csrf_token(world: World) -> None:
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(world.users[Role.ADMIN])
    key = InferenceKey.objects.get()
    urls = page_urls(world, key)
    assert f"/keys/{key.pk}/revoke/" in urls
    for url in urls:
        assert signed_in.post(url, {"name": "x"}).status_code == 403, url
    key.refresh_from_db()
    assert key.revoked_at is None
    assert InferenceKey.objects.count() == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_non_admins_never_receive_an_engine_secret(world: World, role: Role) -> None:
    client = world.client(role)
    reads = [op for op in world.operations() if op.method == "get"]
    pages = [*page_urls(world, InferenceKey.objects.get()), "/api/docs/", "/api/schema/"]
    answered = 0
    for url in [op.url for op in reads] + pages:
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        answered += response.status_code == 200
        text = response.content.decode()
        assert API_KEY not in text, url
        assert ENV_VALUE not in text, url
    assert answered >= 10, "the sweep must read real pages, not refusals"


def test_the_audit_trail_never_holds_a_secret_even_for_admins(world: World) -> None:
    admin = world.client(Role.ADMIN)
    changed = admin.patch(
        f"/api/instances/{world.instance.pk}/",
        {"api_key": "sk-new-secret-77", "launch_env": {"HF_TOKEN": "hf-new-secret-88"}},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    text = admin.get("/api/audit/").content.decode()
    assert "instance.update" in text or "instance" in text
    for secret in ("sk-new-secret-77", "hf-new-secret-88", API_KEY, ENV_VALUE):
        assert secret not in text


@pytest.mark.parametrize("base_url", BAD_BASE_URLS)
def test_instance_base_urls_other_than_http_with_a_host_are_refused(
    world: World, base_url: str
) -> None:
    admin = world.client(Role.ADMIN)
    body = {"name": "bad-url", "served_model_name": "org/m", "base_url": base_url}
    created = admin.post("/api/instances/", body, format="json")
    assert created.status_code == 400, (base_url, created.content)
    assert "base_url" in created.json()
    patched = admin.patch(
        f"/api/instances/{world.instance.pk}/", {"base_url": base_url}, format="json"
    )
    assert patched.status_code == 400, (base_url, patched.content)
    assert "base_url" in patched.json()


def test_every_state_changing_operation_refused_to_a_viewer_is_audited(world: World) -> None:
    client = world.client(Role.VIEWER)
    for op in [op for op in world.operations() if op.mutating]:
        before = AuditEntry.objects.count()
        response = getattr(client, op.method)(op.url, {}, format="json")
        assert response.status_code == 403, (op, response.status_code)
        entry = AuditEntry.objects.first()
        assert AuditEntry.objects.count() == before + 1, op
        assert entry is not None
        assert (entry.username, entry.outcome) == ("sweep-viewer", Outcome.REFUSED), op


def test_every_job_action_refused_by_the_job_layer_is_audited(world: World) -> None:
    client = world.client(Role.OPERATOR)
    # The job actions: POST /api/instances/<id>/<action>/ and /api/jobs/<id>/cancel/.
    actions = [
        op for op in world.operations()
        if op.method == "post" and op.template.count("/") == 5
        and op.template.split("/")[2] in ("instances", "jobs")
    ]  # fmt: skip
    assert {op.template.split("/")[4] for op in actions} == {
        "sleep", "wake", "switch", "launch", "stop", "cancel",
    }  # fmt: skip
    for op in actions:
        response = client.post(op.url, {}, format="json")
        assert response.status_code == 409, (op, response.content)
        entry = AuditEntry.objects.first()
        assert entry is not None
        assert entry.action == f"job.{op.template.split('/')[4]}", op
        assert entry.outcome in (Outcome.REFUSED, Outcome.FAILED), op
        assert entry.detail["status"] == 409, op


def test_the_audit_log_cannot_be_changed_through_the_api_or_an_admin_site(world: World) -> None:
    admin = world.client(Role.ADMIN)
    admin.post("/api/instances/", {"name": "x"}, format="json")  # one entry to attack
    rows = list(AuditEntry.objects.order_by("pk").values())
    target = rows[0]["id"]
    for method in ("post", "put", "patch", "delete"):
        for url in ("/api/audit/", f"/api/audit/{target}/"):
            response = getattr(admin, method)(url, {"action": "forged"}, format="json")
            assert response.status_code in (404, 405), (method, url, response.status_code)
            assert response["Content-Type"].startswith("application/json")
    assert list(AuditEntry.objects.order_by("pk").values())[: len(rows)] == rows
    assert not AuditEntry.objects.filter(action="forged").exists()
    assert admin.get("/admin/").status_code == 404
