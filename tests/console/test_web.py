"""Pages: sign in and out (audited), and the dashboard's content per role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.models import AuditEntry, Host, Instance, InstanceState, Outcome
from tests.console.conftest import PASSWORD, ClientFactory

InstanceFactory = Callable[..., Instance]


def test_login_with_the_right_password_reaches_the_dashboard(viewer: User, client: Client) -> None:
    response = client.post("/login/", {"username": "vera", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert b"vera" in response.content
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.action, entry.outcome) == ("vera", "user.login", Outcome.OK)


def test_login_with_a_wrong_password_is_refused_and_audited(viewer: User, client: Client) -> None:
    response = client.post("/login/", {"username": "vera", "password": "wrong"})
    assert response.status_code == 200
    assert b"Wrong username or password" in response.content
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.user, entry.outcome) == ("vera", None, Outcome.REFUSED)
    assert "wrong" not in str(entry.detail)


def test_inactive_user_cannot_sign_in(inactive_user: User, client: Client) -> None:
    response = client.post("/login/", {"username": "ivan", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_that_ends_the_session(viewer: User, client: Client) -> None:
    client.force_login(viewer)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.get().action == "user.logout"


def test_logout_form_carries_a_csrf_token(viewer: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert 'action="/logout/"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert client.post("/logout/").status_code == 403


def test_anonymous_visitor_is_sent_to_login_with_next(client: Client, db: None) -> None:
    response = client.get("/")
    assert response["Location"] == "/login/?next=/"


def test_user_without_a_role_is_refused_the_dashboard(
    make_user: Callable[..., User], client: Client
) -> None:
    client.force_login(make_user(None))
    response = client.get("/")
    assert response.status_code == 403
    assert b"Your role does not allow this page" in response.content


def test_dashboard_lists_instances_with_state_badge_and_demo_label(
    viewer: User,
    session_client: ClientFactory,
    make_instance: InstanceFactory,
    make_host: Callable[..., Host],
) -> None:
    host = make_host("gpu-a", gpus=2)
    demo = make_instance(
        name="qwen-demo",
        is_demo=True,
        state=InstanceState.SLEEPING,
        sleep_level=1,
        host=host,
        gpus=list(host.gpus.all()),
    )
    make_instance(name="llama-real")
    html = session_client(viewer).get("/").content.decode()
    row = html.split(f'id="instance-{demo.pk}"')[1].split("</tr>")[0]
    assert "qwen-demo" in row
    assert 'class="badge demo"' in row
    assert 'class="badge state-sleeping"' in row
    assert "L1" in row
    assert "0, 1" in row
    assert "llama-real" in html
    assert "gpu-a" in html
    assert 'class="role role-viewer"' in html


@pytest.mark.parametrize(("role", "has_actions"), [("viewer", False), ("operator", True)])
def test_actions_cell_exists_only_for_roles_that_may_operate(
    request: pytest.FixtureRequest,
    session_client: ClientFactory,
    make_instance: InstanceFactory,
    role: str,
    has_actions: bool,
) -> None:
    instance = make_instance()
    html = session_client(request.getfixturevalue(role)).get("/").content.decode()
    assert (f'data-actions-for="{instance.pk}"' in html) is has_actions


def test_user_without_a_role_is_refused_the_api_docs(
    make_user: Callable[..., User], client: Client
) -> None:
    client.force_login(make_user(None))
    assert client.get("/api/docs/").status_code == 403
