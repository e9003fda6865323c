"""An instance's base URL may only point where engines may be.

Health probes, sleep calls and gateway traffic (with the engine's API key) go to the base
URL, so Redis, PostgreSQL, the console itself and odd spellings of loopback are refused,
each with a message that names the setting to change.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from console.engine_addresses import parse_networks, parse_ports
from console.env import ConfigError
from console.roles import Role
from tests.console.conftest import create_instance, create_user, fast_password_hashing

__all__ = ["fast_password_hashing"]

CONSOLE_PORT = 8123


@pytest.fixture
def admin_api(db: None) -> APIClient:
    client = APIClient()
    client.force_authenticate(create_user(Role.ADMIN))
    return client


def register(client: APIClient, base_url: str) -> Any:
    body = {"name": "engine", "served_model_name": "org/engine", "base_url": base_url}
    # SERVER_PORT: the port this console answers on, as uvicorn reports it.
    return client.post("/api/instances/", body, format="json", SERVER_PORT=str(CONSOLE_PORT))


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://127.0.0.1:6379", "CONSOLE_ENGINE_PORTS"),
        ("http://127.0.0.1:5432", "CONSOLE_ENGINE_PORTS"),
        ("http://[::ffff:127.0.0.1]:6379", "CONSOLE_ENGINE_PORTS"),
        ("http://gpu-1:22", "CONSOLE_ENGINE_PORTS"),
        ("http://gpu-1", "CONSOLE_ENGINE_PORTS"),
        ("https://gpu-1", "CONSOLE_ENGINE_PORTS"),
        ("http://0x7f000001:8001", "legacy spelling"),
        ("http://2130706433:8001", "legacy spelling"),
        ("http://127.1:8001", "legacy spelling"),
        ("http://0177.0.0.1:8001", "legacy spelling"),
        ("http://127.000.000.001:8001", "legacy spelling"),
        (f"http://127.0.0.1:{CONSOLE_PORT}", "this console itself"),
        (f"http://localhost:{CONSOLE_PORT}", "this console itself"),
        (f"http://[::ffff:127.0.0.1]:{CONSOLE_PORT}", "this console itself"),
        (f"http://0.0.0.0:{CONSOLE_PORT}", "this console itself"),
    ],
)
def test_base_urls_at_other_services_or_odd_loopback_spellings_are_refused(
    admin_api: APIClient, base_url: str, says: str
) -> None:
    response = register(admin_api, base_url)
    assert response.status_code == 400, response.content
    assert says in response.json()["base_url"][0]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:18001",  # a fixed id: xdist workers must collect the same tests
        "http://gpu-1:8000",
        f"http://gpu-1:{CONSOLE_PORT}",
        "http://10.0.0.5:8000",
        "http://[::1]:8001",
        "https://gpu-1:8443",
    ],
)
def test_engine_base_urls_within_the_defaults_are_accepted(
    admin_api: APIClient, base_url: str
) -> None:
    assert register(admin_api, base_url).status_code == 201


def test_an_existing_instance_cannot_be_moved_onto_redis(admin_api: APIClient) -> None:
    instance = create_instance()
    response = admin_api.patch(
        f"/api/instances/{instance.pk}/", {"base_url": "http://127.0.0.1:6379"}, format="json"
    )
    assert response.status_code == 400
    instance.refresh_from_db()
    assert instance.base_url != "http://127.0.0.1:6379"


def test_configured_networks_refuse_addresses_and_names_outside_them(
    admin_api: APIClient, settings: Any
) -> None:
    settings.CONSOLE_ENGINE_NETWORKS = parse_networks("CONSOLE_ENGINE_NETWORKS", "10.0.0.0/8")
    assert register(admin_api, "http://10.1.2.3:8000").status_code == 201
    for outside in ("http://127.0.0.1:8001", "http://localhost:8001", "http://192.168.1.9:8000"):
        response = register(admin_api, outside)
        assert response.status_code == 400, outside
        assert "CONSOLE_ENGINE_NETWORKS=10.0.0.0/8" in response.json()["base_url"][0]


def test_configured_ports_replace_the_default_range(admin_api: APIClient, settings: Any) -> None:
    settings.CONSOLE_ENGINE_PORTS = parse_ports("CONSOLE_ENGINE_PORTS", "8000-8099,!8050")
    assert register(admin_api, "http://gpu-1:8001").status_code == 201
    for refused in ("http://gpu-1:9000", "http://gpu-1:8050"):
        response = register(admin_api, refused)
        assert response.status_code == 400, refused
        assert "CONSOLE_ENGINE_PORTS=8000-8099,!8050" in response.json()["base_url"][0]


@pytest.mark.parametrize("text", ["", "!6379", "80-", "0-100", "9000-8000", "http"])
def test_a_malformed_port_setting_stops_the_start_naming_it(text: str) -> None:
    with pytest.raises(ConfigError, match="CONSOLE_ENGINE_PORTS"):
        parse_ports("CONSOLE_ENGINE_PORTS", text)


@pytest.mark.parametrize("text", ["", "10.0.0.0/33", "gpu-1"])
def test_a_malformed_network_setting_stops_the_start_naming_it(text: str) -> None:
    with pytest.raises(ConfigError, match="CONSOLE_ENGINE_NETWORKS"):
        parse_networks("CONSOLE_ENGINE_NETWORKS", text)
