"""An audit entry's ``detail`` as lines a person reads: one small formatter per action
that has a shape worth saying in words; any other detail as ``key: value`` lines."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Formatter = Callable[[Mapping[str, Any]], list[str]]


def plain(value: Any) -> str:
    """A value without Python's brackets and quotes."""
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value) or "none"
    if value is None:
        return "—"
    return str(value)


def key_value_lines(detail: Mapping[str, Any]) -> list[str]:
    """The fallback: each key and its value, errors spelled out per field."""
    lines: list[str] = []
    for key, value in detail.items():
        if key == "errors" and isinstance(value, Mapping):
            lines += error_lines(value)
        else:
            lines.append(f"{key.replace('_', ' ')}: {plain(value)}")
    return lines


def error_lines(errors: Mapping[str, Any]) -> list[str]:
    """``{"name": ["This field is required."]}`` -> ``name: This field is required.``
    (Django forms' JSON errors carry each message under ``message``)."""
    lines = []
    for name, found in errors.items():
        items = found if isinstance(found, list) else [found]
        messages = [item.get("message", plain(item)) if isinstance(item, Mapping) else plain(item)
                    for item in items]  # fmt: skip
        label = "form" if name == "__all__" else name
        lines.append(f"{label}: {' '.join(str(m) for m in messages)}")
    return lines


def api_request(detail: Mapping[str, Any]) -> list[str]:
    """What the API's auditing records: the status, the fields sent, the invalid ones."""
    lines = [f"HTTP {detail['status']}"] if "status" in detail else []
    if detail.get("fields"):
        lines.append(f"fields sent: {plain(detail['fields'])}")
    if detail.get("invalid"):
        lines.append(f"invalid: {plain(detail['invalid'])}")
    rest = {k: v for k, v in detail.items() if k not in {"status", "fields", "invalid"}}
    return lines + key_value_lines(rest)


def role_change(detail: Mapping[str, Any]) -> list[str]:
    if "role" in detail:
        return [f"role: {detail['role']}"]
    return key_value_lines(detail)


def token_issue(detail: Mapping[str, Any]) -> list[str]:
    if "days" not in detail:
        return key_value_lines(detail)
    days = detail["days"]
    return [f"expires after {days} days" if days else "never expires"]


def token_revoke(detail: Mapping[str, Any]) -> list[str]:
    if "prefix" not in detail:
        return key_value_lines(detail)
    return [f"token {detail['prefix']}… revoked"]


def gateway_job(detail: Mapping[str, Any]) -> list[str]:
    lines = [f"job {detail['job']}"] if "job" in detail else []
    if detail.get("via"):
        lines.append(f"asked by the {detail['via']}")
    if detail.get("client"):
        lines.append(f"for the client at {detail['client']}")
    rest = {k: v for k, v in detail.items() if k not in {"job", "via", "client"}}
    return lines + key_value_lines(rest)


def csrf_failure(detail: Mapping[str, Any]) -> list[str]:
    method, path = detail.get("method", ""), detail.get("path", "")
    return [f"{method} {path}".strip(), f"refused: {detail.get('reason', 'CSRF check failed')}"]


def role_refusal(detail: Mapping[str, Any]) -> list[str]:
    method, path = detail.get("method", ""), detail.get("path", "")
    needs = detail.get("needs", "it")
    return [f"{method} {path}".strip(), f"refused: the role does not allow {needs}"]


FORMATTERS: Mapping[str, Formatter] = {
    "user.create": role_change,
    "user.role": role_change,
    "token.issue": token_issue,
    "token.revoke": token_revoke,
    "request.csrf": csrf_failure,
    "request.role": role_refusal,
}


def detail_lines(action: str, detail: Mapping[str, Any] | None) -> list[str]:
    """The entry's detail in words; nothing for an empty one."""
    if not detail:
        return []
    formatter = FORMATTERS.get(action)
    if formatter is None:
        formatter = (
            api_request
            if "status" in detail
            else gateway_job
            if "job" in detail
            else key_value_lines
        )
    return formatter(detail)
