"""Login rate limit: ten failed sign-ins per username and address in five minutes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.models import AuditEntry, Outcome
from console.roles import Role
from console.web.ratelimit import LIMIT, login_throttled
from tests.console.conftest import PASSWORD, create_user, fast_password_hashing

__all__ = ["fast_password_hashing"]

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"


@pytest.fixture
def user() -> User:
    return create_user(Role.OPERATOR, username="olga")


def sign_in(password: str, address: str = ADDRESS, username: str = "olga") -> int:
    response = Client(REMOTE_ADDR=address).post(
        "/login/", {"username": username, "password": password}
    )
    return response.status_code


def fail(times: int, address: str = ADDRESS, username: str = "olga") -> None:
    for _ in range(times):
        assert sign_in("wrong", address, username) == 200  # the form again, with its error


def test_ten_failures_throttle_that_username_from_that_address(user: User) -> None:
    fail(LIMIT - 1)
    assert not login_throttled("olga", ADDRESS)
    fail(1)
    assert login_throttled("olga", ADDRESS)
    assert not login_throttled("olga", "198.51.100.1")
    assert not login_throttled("other", ADDRESS)


def test_a_successful_sign_in_clears_the_count(user: User) -> None:
    fail(LIMIT - 1)
    assert sign_in(PASSWORD) == 302
    fail(LIMIT - 1)
    assert not login_throttled("olga", ADDRESS)


def test_every_failed_attempt_is_audited_with_the_username_tried(user: User) -> None:
    fail(3)
    entries = AuditEntry.objects.filter(action="user.login", outcome=Outcome.REFUSED)
    assert list(entries.values_list("username", "remote_addr")) == [("olga", ADDRESS)] * 3


def test_the_eleventh_attempt_is_answered_429_even_with_the_right_password(user: User) -> None:
    fail(LIMIT)
    assert sign_in(PASSWORD) == 429
    assert sign_in(PASSWORD, "198.51.100.1") == 302, "another address is not throttled"


def test_a_throttled_attempt_is_audited_as_refused(user: User) -> None:
    fail(LIMIT)
    assert sign_in("anything") == 429
    entry = AuditEntry.objects.first()
    assert entry is not None
    assert (entry.action, entry.outcome, entry.username) == ("user.login", Outcome.REFUSED, "olga")
    assert entry.detail == {"reason": "too many failed sign-ins"}


# Fullwidth letters and padding: Django signs these in as "olga" (NFKC, stripped).
LOOK_ALIKES = ["\uff4flga", "\uff4f\uff4c\uff47\uff41", " olga ", "olga\t"]


@pytest.mark.parametrize("look_alike", LOOK_ALIKES)
def test_a_unicode_look_alike_of_a_throttled_username_is_throttled_too(
    user: User, look_alike: str
) -> None:
    fail(LIMIT)
    assert sign_in(PASSWORD, username=look_alike) == 429


def test_failures_under_look_alikes_count_for_the_username_django_signs_in(user: User) -> None:
    fail(LIMIT // 2)
    fail(LIMIT - LIMIT // 2, username="\uff4f\uff4c\uff47\uff41")
    assert sign_in(PASSWORD) == 429
    refused = AuditEntry.objects.filter(outcome=Outcome.REFUSED)
    assert set(refused.values_list("username", flat=True)) == {"olga"}


def test_the_throttled_page_is_the_consoles_with_a_way_back_to_sign_in(user: User) -> None:
    fail(LIMIT)
    response = Client(REMOTE_ADDR=ADDRESS).post(
        "/login/", {"username": "olga", "password": PASSWORD, "next": "/history/"}
    )
    assert response.status_code == 429
    page = response.content.decode()
    assert "<title>Too many attempts · vLLM Console</title>" in page
    assert 'href="/static/' in page, "styled by the base template"
    assert 'href="/login/?next=/history/">Back to sign in</a>' in page
