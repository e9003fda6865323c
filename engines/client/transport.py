"""httpx settings shared by both clients: headers, timeouts, no proxies from the environment."""

from __future__ import annotations

from typing import TypedDict

import httpx

from engines.client.calls import Budget, Timeouts
from engines.errors import EngineUnreachable


class ClientOptions(TypedDict):
    """Keyword arguments for ``httpx.Client`` and ``httpx.AsyncClient``."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout
    trust_env: bool


def request_timeout(timeouts: Timeouts, budget: Budget, quick: float) -> httpx.Timeout:
    """Every phase bounded; only the read timeout depends on the kind of call."""
    return httpx.Timeout(
        connect=timeouts.connect,
        read=timeouts.read(budget, quick),
        write=timeouts.write,
        pool=timeouts.pool,
    )


def checked_base_url(url: str) -> str:
    """``url`` without its trailing slash; a malformed URL is an error no retry can fix."""
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise EngineUnreachable(f"invalid engine URL ({exc})", url=url, retryable=False) from exc
    return url.rstrip("/")


def client_options(
    base_url: str, api_key: str | None, timeouts: Timeouts, quick: float
) -> ClientOptions:
    # vLLM checks the key only on /v1 paths (facts 2.11); sending it everywhere is harmless.
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return ClientOptions(
        base_url=base_url,
        headers=headers,
        timeout=request_timeout(timeouts, Budget.QUICK, quick),
        # Engines sit on the cluster network: an HTTP(S)_PROXY meant for the internet
        # must not capture these calls.
        trust_env=False,
    )
