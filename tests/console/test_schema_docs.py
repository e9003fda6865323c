"""The OpenAPI schema is valid, and its Swagger UI works without reaching the internet."""

from __future__ import annotations

import re

import yaml
from django.contrib.auth.models import User
from drf_spectacular.validation import validate_schema

from tests.console.conftest import ClientFactory

LOCAL_URL = re.compile(r"^(?:https?:)?//(?:localhost|127\.0\.0\.1|testserver)(?:[:/]|$)")


def test_schema_is_valid_openapi_listing_the_endpoints(
    viewer: User, token_client: ClientFactory
) -> None:
    response = token_client(viewer).get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)  # type: ignore[no-untyped-call]
    assert {"/api/instances/", "/api/jobs/", "/api/hosts/", "/api/audit/", "/api/me/"} <= set(
        schema["paths"]
    )


def test_docs_page_loads_nothing_from_outside(viewer: User, session_client: ClientFactory) -> None:
    response = session_client(viewer).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html)
    urls += re.findall(r"""["']((?:https?:)?//[^"']+)""", html)
    assert urls, "the page references its assets"
    external = [
        url for url in urls if re.match(r"^(?:https?:)?//", url) and not LOCAL_URL.match(url)
    ]
    assert external == []
    assert "swagger-ui" in html


def test_docs_assets_are_served_by_the_console(viewer: User, session_client: ClientFactory) -> None:
    client = session_client(viewer)
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()
