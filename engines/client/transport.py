"""The client's httpx settings: headers, timeouts, no proxies from the environment."""

from __future__ import annotations

import functools
import ssl
from typing import TypedDict

import httpx

from engines.client.calls import Budget, Call, Timeouts
from engines.errors import EngineUnreachable


class ClientOptions(TypedDict):
    """Keyword arguments for ``httpx.Client``."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout
    trust_env: bool
    verify: ssl.SSLContext


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: httpx builds a new one for every client,
    loading the CA bundle each time (40 ms here), and a client is made per job step: a
    switch paid it twice on its critical path."""
    return ssl.create_default_context()


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
    # vLLM checks the key only on /v1 paths (docs/vllm-behaviour.md §2.11); sending it everywhere is
    # harmless.
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return ClientOptions(
        base_url=base_url,
        headers=headers,
        timeout=request_timeout(timeouts, Budget.QUICK, quick),
        # Engines sit on the cluster network: an HTTP(S)_PROXY meant for the internet
        # must not capture these calls.
        trust_env=False,
        verify=tls_context(),
    )


# A server closes a keep-alive connection after an exception in its ASGI app (uvicorn, once
# the 500 went out, without "Connection: close"): a request sent on that pooled connection
# before the close is seen fails with "Server disconnected without sending a response",
# although the engine is fine (vLLM 0.25.0's reload_weights of a dummy-loaded model, H200).
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def retry_on_fresh_connection(call: Call, error: Exception) -> bool:
    """Whether ``call`` is sent once more on a new connection after ``error``.

    Only idempotent calls (GET): a sleep or a wake that may have reached the engine is
    never sent twice.
    """
    return call.method == "GET" and isinstance(error, _DROPPED)
