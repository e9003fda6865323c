"""Hypothesis against the gateway's path filter: nothing it forwards can leave ``/v1/``."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from console.gateway.errors import GatewayError
from console.gateway.paths import forwardable_path

DEV_ENDPOINTS = ("sleep", "wake_up", "is_sleeping", "collective_rpc", "reset_prefix_cache")
# Pieces an attacker would combine: traversal in every spelling, separators, dev endpoints.
PIECES = st.sampled_from(
    ["..", ".", "%2e%2e", "%2E%2E", "%252e%252e", "/", "//", "\\", "%2f", "%5c", ";", "%00",
     "v1", "completions", "chat", "models", *DEV_ENDPOINTS]
)  # fmt: skip


def decoded_forms(path: str) -> list[str]:
    """The path as an engine or a proxy might read it: decoded up to twice, normalised."""
    once = unquote(path)
    forms = [path, once, unquote(once)]
    return [posixpath.normpath(form.replace("\\", "/")) for form in forms]


@settings(max_examples=3000, deadline=None)
@given(st.lists(PIECES, max_size=8).map(lambda parts: "/v1/" + "/".join(parts)))
def test_no_forwarded_path_reaches_a_dev_endpoint(path: str) -> None:
    try:
        forwarded = forwardable_path(unquote(path), path.encode())
    except GatewayError:
        return  # refused: nothing sent
    # The dev endpoints sit at the engine's root: under /v1/ in every reading, none is reached.
    for form in decoded_forms(forwarded):
        assert form.startswith("/v1/"), (path, form)
