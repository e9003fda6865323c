"""The role matrix: every URL pattern x every kind of caller -> the expected status.

Add a row here for each new URL pattern or websocket route; ``test_role_matrix`` fails
for a pattern without one (and for a row whose pattern is gone). Routes are keyed
``namespace:name`` (or the pattern text when unnamed); ``url`` may use ``{instance}``,
``{job}``, ``{host}``, ``{key}`` (an inference key), ``{user}`` (a viewer) and ``{rule}``
(an alert rule).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from console.realtime.routing import websocket_urlpatterns


class Principal(StrEnum):
    """Who calls."""

    ANONYMOUS = "anonymous"
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    INACTIVE = "inactive"
    BAD_TOKEN = "bad_token"


P = Principal
SIGNED_OUT = (P.ANONYMOUS, P.INACTIVE, P.BAD_TOKEN)


@dataclass(frozen=True)
class Row:
    """One HTTP request and the status each principal must get."""

    route: str
    method: str
    url: str
    expect: Mapping[Principal, int]
    body: Mapping[str, Any] = field(default_factory=dict)


def api(viewer: int, operator: int, admin: int, signed_out: int = 401) -> dict[Principal, int]:
    return {
        P.VIEWER: viewer,
        P.OPERATOR: operator,
        P.ADMIN: admin,
        **dict.fromkeys(SIGNED_OUT, signed_out),
    }


def page(ok: int = 200) -> dict[Principal, int]:
    """Pages send signed-out callers (a token is no session) to the login form."""
    return api(ok, ok, ok, signed_out=302)


NEW_INSTANCE = {
    "name": "new-model",
    "served_model_name": "org/new-model",
    "base_url": "http://127.0.0.1:9100",
}
READ = api(200, 200, 200)
ADMIN_PAGE = {**page(), P.VIEWER: 403, P.OPERATOR: 403}

ROWS: tuple[Row, ...] = (
    Row("instance-list", "get", "/api/instances/", READ),
    Row("instance-list", "post", "/api/instances/", api(403, 403, 201), NEW_INSTANCE),
    Row("instance-detail", "get", "/api/instances/{instance}/", READ),
    Row(
        "instance-detail",
        "patch",
        "/api/instances/{instance}/",
        api(403, 403, 200),
        {"served_model_name": "org/renamed"},
    ),
    Row("instance-detail", "delete", "/api/instances/{instance}/", api(403, 403, 204)),
    # The role check comes before the method check: only admins learn PUT is not offered.
    Row("instance-detail", "put", "/api/instances/{instance}/", api(403, 403, 405)),
    # Operating: viewers are refused; operators and admins pass the role check and reach the
    # job layer, which refuses (409) because the matrix's instance has no host and is stopped.
    *(
        Row(f"instance-{verb}", "post", f"/api/instances/{{instance}}/{verb}/", api(403, 409, 409))
        for verb in ("sleep", "wake", "switch", "launch", "stop")
    ),
    # Schedules: viewers read, whoever may put it to sleep sets them (the matrix's empty
    # JSON is a valid empty schedule).
    Row("instance-schedule", "get", "/api/instances/{instance}/schedule/", READ),
    Row("instance-schedule", "put", "/api/instances/{instance}/schedule/", api(403, 200, 200)),
    Row("instance-schedule", "delete", "/api/instances/{instance}/schedule/", api(403, 204, 204)),
    Row("job-list", "get", "/api/jobs/", READ),
    Row("job-list", "post", "/api/jobs/", api(405, 405, 405), {"kind": "sleep"}),
    Row("job-detail", "get", "/api/jobs/{job}/", READ),
    Row("job-detail", "delete", "/api/jobs/{job}/", api(405, 405, 405)),
    # Operators pass the role check; the matrix's job has finished, so the cancel is refused.
    Row("job-cancel", "post", "/api/jobs/{job}/cancel/", api(403, 409, 409)),
    Row("host-list", "get", "/api/hosts/", READ),
    Row("host-list", "post", "/api/hosts/", api(405, 405, 405), {"name": "h"}),
    Row("host-detail", "get", "/api/hosts/{host}/", READ),
    Row("audit-list", "get", "/api/audit/", api(403, 403, 200)),
    Row("audit-list", "post", "/api/audit/", api(405, 405, 405), {"action": "x"}),
    Row("inference-key-list", "get", "/api/inference-keys/", api(403, 403, 200)),
    Row(
        "inference-key-list",
        "post",
        "/api/inference-keys/",
        api(403, 403, 201),
        {"name": "ci", "allowed_models": ["org/model"]},
    ),
    Row("inference-key-detail", "get", "/api/inference-keys/{key}/", api(403, 403, 200)),
    Row(
        "inference-key-detail",
        "patch",
        "/api/inference-keys/{key}/",
        api(403, 403, 200),
        {"requests_per_minute": 5},
    ),
    Row("inference-key-detail", "delete", "/api/inference-keys/{key}/", api(403, 403, 204)),
    Row("notification-rule-list", "get", "/api/notification-rules/", api(403, 403, 200)),
    Row(
        "notification-rule-list",
        "post",
        "/api/notification-rules/",
        api(403, 403, 201),
        {"name": "matrix-new", "url": "json://127.0.0.1:9/hook"},
    ),
    Row("notification-rule-detail", "get", "/api/notification-rules/{rule}/", api(403, 403, 200)),
    Row(
        "notification-rule-detail",
        "patch",
        "/api/notification-rules/{rule}/",
        api(403, 403, 200),
        {"enabled": False},
    ),
    Row(
        "notification-rule-detail",
        "put",
        "/api/notification-rules/{rule}/",
        api(403, 403, 200),
        {"name": "matrix-renamed"},
    ),
    Row(
        "notification-rule-detail", "delete", "/api/notification-rules/{rule}/", api(403, 403, 204)
    ),
    Row(
        "notification-rule-test", "post", "/api/notification-rules/{rule}/test/", api(403, 403, 202)
    ),
    Row(
        "notification-rule-deliveries",
        "get",
        "/api/notification-rules/{rule}/deliveries/",
        api(403, 403, 200),
    ),
    Row("history-memory", "get", "/api/history/memory/?subject=gpu&id=1", READ),
    Row("history-timings", "get", "/api/history/timings/?instance={instance}", READ),
    Row("history-latency", "get", "/api/history/latency/?instance={instance}", READ),
    Row("history-gateway", "get", "/api/history/gateway/", READ),
    Row("usage", "get", "/api/usage/", api(403, 200, 200)),
    Row("usage-csv", "get", "/api/usage.csv", api(403, 200, 200)),
    Row("metrics", "get", "/metrics", READ),
    Row("me", "get", "/api/me/", READ),
    Row("schema", "get", "/api/schema/", READ),
    Row("docs", "get", "/api/docs/", page()),
    Row("api-not-found", "get", "/api/nothing/here/", api(404, 404, 404, signed_out=404)),
    Row("dashboard", "get", "/", page()),
    Row("instance", "get", "/instances/{instance}/", page()),
    # Issue 16: admins register, edit and delete instances from pages (the matrix posts JSON,
    # which the form does not read: an admin gets the form back with its errors, 400).
    Row("instance-new", "get", "/instances/new/", {**page(), P.VIEWER: 403, P.OPERATOR: 403}),
    Row(
        "instance-new",
        "post",
        "/instances/new/",
        {**page(), P.VIEWER: 403, P.OPERATOR: 403, P.ADMIN: 400},
    ),
    Row(
        "instance-edit",
        "get",
        "/instances/{instance}/edit/",
        {**page(), P.VIEWER: 403, P.OPERATOR: 403},
    ),
    Row(
        "instance-edit",
        "post",
        "/instances/{instance}/edit/",
        {**page(), P.VIEWER: 403, P.OPERATOR: 403, P.ADMIN: 400},
    ),
    Row(
        "instance-delete",
        "post",
        "/instances/{instance}/delete/",
        {**page(302), P.VIEWER: 403, P.OPERATOR: 403},
    ),
    # Issue 16: whoever may put an instance to sleep may set its idle ladder (the matrix's
    # JSON leaves the form empty: no idle sleep, not pinned, a valid change).
    Row("instance-idle", "post", "/instances/{instance}/idle/", {**page(302), P.VIEWER: 403}),
    Row(
        "instance-schedule-form",
        "post",
        "/instances/{instance}/schedule/",
        {**page(302), P.VIEWER: 403},
    ),
    Row("history", "get", "/history/", page()),
    Row("audit", "get", "/audit/", {**page(), P.VIEWER: 403, P.OPERATOR: 403}),
    Row("keys", "get", "/keys/", {**page(), P.VIEWER: 403, P.OPERATOR: 403}),
    # The matrix posts JSON and the form reads form fields: an admin gets the form back (400).
    Row("keys", "post", "/keys/", {**page(), P.VIEWER: 403, P.OPERATOR: 403, P.ADMIN: 400}),
    # The matrix's JSON leaves every limit empty: a valid change (no limits), then the page.
    Row("key-limits", "post", "/keys/{key}/limits/", {**page(302), P.VIEWER: 403, P.OPERATOR: 403}),
    Row("key-revoke", "post", "/keys/{key}/revoke/", {**page(302), P.VIEWER: 403, P.OPERATOR: 403}),
    Row("job", "get", "/jobs/{job}/", page()),
    Row("hosts", "get", "/hosts/", page()),
    # Admin pages for users and REST tokens: the matrix's JSON leaves the forms empty, so an
    # admin gets the page back with its field errors (400).
    Row("users", "get", "/users/", ADMIN_PAGE),
    Row("users", "post", "/users/", {**ADMIN_PAGE, P.ADMIN: 400}),
    Row("user-role", "post", "/users/{user}/role/", {**ADMIN_PAGE, P.ADMIN: 400}),
    Row("user-active", "post", "/users/{user}/active/", {**ADMIN_PAGE, P.ADMIN: 400}),
    Row("user-password", "get", "/users/{user}/password/", ADMIN_PAGE),
    Row("user-password", "post", "/users/{user}/password/", {**ADMIN_PAGE, P.ADMIN: 400}),
    Row("tokens", "get", "/tokens/", ADMIN_PAGE),
    Row("tokens", "post", "/tokens/", {**ADMIN_PAGE, P.ADMIN: 400}),
    Row("token-revoke", "post", "/tokens/revoke/", {**ADMIN_PAGE, P.ADMIN: 400}),
    # Alerts (admins): the matrix's JSON leaves the rule form empty, so an admin gets it back.
    Row("alerts", "get", "/alerts/", {**page(), P.VIEWER: 403, P.OPERATOR: 403}),
    Row("alerts", "post", "/alerts/", {**page(), P.VIEWER: 403, P.OPERATOR: 403, P.ADMIN: 400}),
    Row("alert-rule", "get", "/alerts/{rule}/", {**page(), P.VIEWER: 403, P.OPERATOR: 403}),
    Row(
        "alert-rule",
        "post",
        "/alerts/{rule}/",
        {**page(), P.VIEWER: 403, P.OPERATOR: 403, P.ADMIN: 400},
    ),
    Row(
        "alert-rule-delete",
        "post",
        "/alerts/{rule}/delete/",
        {**page(302), P.VIEWER: 403, P.OPERATOR: 403},
    ),
    Row(
        "alert-rule-test",
        "post",
        "/alerts/{rule}/test/",
        {**page(302), P.VIEWER: 403, P.OPERATOR: 403},
    ),
    Row("login", "get", "/login/", {**page(302), **dict.fromkeys(SIGNED_OUT, 200)}),
    # Single sign-on's routes answer 404 while it is not configured (as in these tests); the
    # refusal page is for anyone (it shows only the caller's own session's reason).
    Row("oidc_authentication_init", "get", "/sso/start/", dict.fromkeys(Principal, 404)),
    Row("oidc_authentication_callback", "get", "/sso/callback/", dict.fromkeys(Principal, 404)),
    Row("sso-refused", "get", "/sso/refused/", dict.fromkeys(Principal, 403)),
    Row("logout", "post", "/logout/", page(302)),
    Row("logout", "get", "/logout/", dict.fromkeys(Principal, 405)),
)


@dataclass(frozen=True)
class SocketRow:
    """One websocket route: None where the feed opens, else the close code expected."""

    url: str
    expect: Mapping[Principal, int | None]


# The consumers accept, then close with 4401 (signed out) or 4403 (no role) so the page
# can tell the two apart; a browser carries no API token, so a bad token is signed out.
FEED = {P.VIEWER: None, P.OPERATOR: None, P.ADMIN: None, **dict.fromkeys(SIGNED_OUT, 4401)}

WEBSOCKET_ROWS: Mapping[str, SocketRow] = {
    "ws/console/": SocketRow("/ws/console/", FEED),
    "ws/instances/<int:instance_id>/": SocketRow("/ws/instances/{instance}/", FEED),
}


def route_key(prefix: str, entry: URLPattern | URLResolver, namespace: str) -> str:
    if isinstance(entry, URLPattern) and entry.name:
        return f"{namespace}:{entry.name}" if namespace else entry.name
    return prefix + str(entry.pattern)


def all_routes(
    entries: list[URLPattern | URLResolver] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[str]:
    """Every URL pattern of the project, walking includes recursively."""
    for entry in get_resolver().url_patterns if entries is None else entries:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, (namespace, entry.namespace or "")))
            yield from all_routes(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            yield route_key(prefix, entry, namespace)


def all_websocket_routes() -> Iterator[str]:
    """Every websocket route, keyed like the HTTP ones."""
    yield from all_routes(list(websocket_urlpatterns))
