"""The audit page and ``/api/audit/``: filters by who, what, outcome and time, kept across
pages, field errors for bad values, and each entry's detail in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from rest_framework.test import APIClient

from console.models import AuditEntry, Outcome
from console.roles import Role
from console.web.audit_details import detail_lines
from tests.console.conftest import create_user

pytestmark = pytest.mark.django_db


def entry(action: str, username: str = "otto", outcome: str = Outcome.OK,
          at: datetime | None = None, **fields: object) -> AuditEntry:  # fmt: skip
    extra = {"at": at} if at else {}
    return AuditEntry.objects.create(action=action, username=username, outcome=outcome,
                                     **extra, **fields)  # fmt: skip


@pytest.fixture
def admin_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.ADMIN))
    return client


@pytest.fixture
def admin_api() -> APIClient:
    client = APIClient()
    client.force_login(create_user(Role.ADMIN))
    return client


def listed(client: Client, query: str) -> list[str]:
    rows = client.get(f"/audit/?{query}").context["rows"]
    return [row.entry.action for row in rows]


def test_filters_by_who_what_and_outcome(admin_page: Client) -> None:
    entry("job.sleep")
    entry("job.wake", username="vera")
    entry("user.role", outcome=Outcome.REFUSED)
    entry("user.create")
    assert listed(admin_page, "username=vera") == ["job.wake"]
    assert listed(admin_page, "action=user") == ["user.create", "user.role"]
    assert listed(admin_page, "action=user.role&outcome=refused") == ["user.role"]


def test_filters_by_time_range(admin_page: Client) -> None:
    entry("job.early", at=datetime(2026, 1, 1, 8, tzinfo=UTC))
    entry("job.middle", at=datetime(2026, 1, 1, 9, tzinfo=UTC))
    entry("job.late", at=datetime(2026, 1, 1, 10, tzinfo=UTC))
    query = "since=2026-01-01T08:30&until=2026-01-01T09:30"
    assert listed(admin_page, query) == ["job.middle"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("outcome=maybe", "outcome"),
        ("since=yesterday", "since"),
        ("since=2026-01-02T00:00&until=2026-01-01T00:00", "until"),
        ("username=" + "x" * 200, "username"),
    ],
)
def test_bad_filters_are_field_errors_on_the_page_and_in_the_api(
    admin_page: Client, admin_api: APIClient, query: str, field: str
) -> None:
    response = admin_page.get(f"/audit/?{query}")
    assert response.status_code == 400
    assert field in response.context["filters"].errors
    api = admin_api.get(f"/api/audit/?{query}")
    assert api.status_code == 400
    assert field in api.json()


def test_the_api_filters_as_the_page_does(admin_api: APIClient) -> None:
    entry("user.role", outcome=Outcome.REFUSED)
    entry("user.create")
    entry("job.sleep")
    results = admin_api.get("/api/audit/?action=user&outcome=refused").json()["results"]
    assert [row["action"] for row in results] == ["user.role"]


def test_pages_keep_the_filters(admin_page: Client) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(username="otto", action="job.sleep", outcome=Outcome.OK) for _ in range(51)
    )
    html = admin_page.get("/audit/?username=otto").content.decode()
    assert 'href="?username=otto&amp;page=2"' in html


def test_details_read_as_words_not_dicts(admin_page: Client) -> None:
    entry("instance.create", outcome=Outcome.FAILED,
          detail={"errors": {"base_url": ["Enter a valid URL."]}})  # fmt: skip
    html = admin_page.get("/audit/").content.decode()
    assert "base_url: Enter a valid URL." in html
    assert "{&#x27;errors&#x27;" not in html


def test_a_job_entry_links_to_the_job(admin_page: Client) -> None:
    entry("job.switch", target_type="instance", target_id="3", detail={"job": 41, "via": "gateway"})
    entry("job.sleep", target_type="job", target_id="42")
    html = admin_page.get("/audit/").content.decode()
    assert 'href="/jobs/41/"' in html
    assert 'href="/jobs/42/"' in html


@pytest.mark.parametrize(
    ("action", "detail", "lines"),
    [
        ("user.role", {"role": "operator"}, ["role: operator"]),
        ("token.issue", {"days": None}, ["never expires"]),
        ("token.issue", {"days": 30}, ["expires after 30 days"]),
        ("token.revoke", {"prefix": "ab12cd34"}, ["token ab12cd34… revoked"]),
        ("instance.update", {"status": 400, "fields": ["name"], "invalid": ["name"]},
         ["HTTP 400", "fields sent: name", "invalid: name"]),
        ("request.csrf", {"method": "POST", "path": "/keys/", "reason": "no token"},
         ["POST /keys/", "refused: no token"]),
        ("request.role", {"method": "POST", "path": "/users/", "needs": "users.manage"},
         ["POST /users/", "refused: the role does not allow users.manage"]),
        ("something.new", {"a_b": [1, 2], "c": {"d": None}}, ["a b: 1, 2", "c: d=—"]),
        ("user.create", {"errors": {"password2": [{"message": "Too short.", "code": "x"}]}},
         ["password2: Too short."]),
    ],
)  # fmt: skip
def test_each_detail_has_readable_lines(action: str, detail: dict[str, object],
                                        lines: list[str]) -> None:  # fmt: skip
    assert detail_lines(action, detail) == lines
