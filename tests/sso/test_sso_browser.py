"""In a real browser against a console configured only by environment variables: sign in
through the test provider, get the role the groups map to, and a new one when they change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.sso.conftest import Provider
from tests.support.console import console_process
from tests.web.conftest import LiveConsole, page  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_on_env(provider: Provider) -> dict[str, str]:
    return {
        "CONSOLE_OIDC_CLIENT_ID": "console",
        "CONSOLE_OIDC_CLIENT_SECRET": "s3cret-client",
        "CONSOLE_OIDC_AUTHORIZATION_URL": f"{provider.url}/oauth2/authorize",
        "CONSOLE_OIDC_TOKEN_URL": f"{provider.url}/oauth2/token",
        "CONSOLE_OIDC_USERINFO_URL": f"{provider.url}/userinfo",
        "CONSOLE_OIDC_JWKS_URL": f"{provider.url}/jwks",
        "CONSOLE_OIDC_ROLE_MAP": "gpu-admins=admin,ml=operator",
        "CONSOLE_OIDC_PROVIDER_NAME": "Test IdP",
        "CONSOLE_OIDC_VERIFY_KEY_ID": "0",
        "CONSOLE_LOCAL_LOGIN": "0",
    }


@pytest.fixture
def sso_console(transactional_db: None, tmp_path: Path, provider: Provider) -> Iterator[str]:
    console = LiveConsole(tmp_path / "web")
    argv = ["-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1",
            "--port", str(console.port)]  # fmt: skip
    with console_process(argv, console.data_dir, "web", "Uvicorn running on",
                         env=sign_on_env(provider)):  # fmt: skip
        yield console.url


def sign_in(tab: Page, console: str, subject: str) -> None:
    tab.goto(f"{console}/login/")
    tab.click("#sso-login")
    tab.fill("input[name=sub]", subject)
    tab.click("button[type=submit]:has-text('Authorize')")
    tab.wait_for_url(f"{console}/")


def test_a_user_signs_in_through_the_provider_and_gets_the_role_of_their_groups(
    provider: Provider,
    sso_console: str,
    page: Page,  # noqa: F811
) -> None:
    page.goto(f"{sso_console}/login/")
    expect(page.locator("#sso-login")).to_have_text("Sign in with Test IdP")
    expect(page.locator("#id_password")).to_have_count(0)
    provider.set_user("sub-browser", "bruno", ["ml"])
    sign_in(page, sso_console, "sub-browser")
    expect(page.locator(".role")).to_have_text("operator")
    page.click("form[action='/logout/'] button")
    provider.set_user("sub-browser", "bruno", ["gpu-admins"])
    sign_in(page, sso_console, "sub-browser")
    expect(page.locator(".role")).to_have_text("admin")


def test_a_user_in_no_mapped_group_sees_why_they_were_refused(
    provider: Provider,
    sso_console: str,
    page: Page,  # noqa: F811
) -> None:
    provider.set_user("sub-outsider", "otto", ["finance"])
    page.goto(f"{sso_console}/login/")
    page.click("#sso-login")
    page.fill("input[name=sub]", "sub-outsider")
    page.click("button[type=submit]:has-text('Authorize')")
    expect(page.locator("#sso-refusal")).to_have_text(
        "none of your groups (finance) gives a role in this console"
    )
