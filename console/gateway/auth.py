"""Inference keys on the hot path: ``Authorization: Bearer vlc-...`` checked against the table."""

from __future__ import annotations

from console.gateway.errors import GatewayError, unauthorized
from console.gateway.proxy import Headers
from console.gateway.routes import KeyEntry, RouteTable
from console.models.gateway import hash_key


def bearer(headers: Headers) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


async def authenticate(table: RouteTable, headers: Headers) -> KeyEntry:
    key = bearer(headers)
    if key is None:
        raise unauthorized(
            "You didn't provide an API key. Send an inference key as 'Authorization: Bearer KEY'."
        )
    digest = hash_key(key)
    entry = table.key(digest)
    if entry is None and digest not in table.unknown_keys:
        await table.refresh_for_miss()
        entry = table.key(digest)
    if entry is None:
        # Until the next periodic reload, the same wrong key costs no more queries.
        table.unknown_keys.add(digest)
    if entry is None:
        raise unauthorized("Incorrect or revoked API key provided.")
    return entry


def check_model(entry: KeyEntry, model: str) -> None:
    if not entry.may_use(model):
        raise GatewayError(
            403, f"This key may not use the model `{model}`.", "permission_error",
            "model_not_allowed", param="model",
        )  # fmt: skip
