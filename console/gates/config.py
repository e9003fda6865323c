"""The gateway's settings, read once from Django's settings with their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class GatewayConfig:
    """Timeouts and limits of the gateway (``CONSOLE_GATEWAY_*`` settings)."""

    redis_url: str
    redis_prefix: str
    hold_seconds: float = 120.0
    max_held: int = 256
    drain_seconds: float = 30.0
    refresh_seconds: float = 1.0
    upstream_timeout: float = 600.0
    max_body_bytes: int = 32 << 20
    # An in-flight mark outlives a web process that died mid-request by at most this long.
    request_lease_seconds: float = 900.0
    retry_after_seconds: int = 5

    @classmethod
    def from_settings(cls) -> GatewayConfig:
        return cls(
            redis_url=settings.REDIS_URL,
            redis_prefix=settings.REDIS_PREFIX,
            hold_seconds=float(getattr(settings, "CONSOLE_GATEWAY_HOLD_SECONDS", 120.0)),
            max_held=int(getattr(settings, "CONSOLE_GATEWAY_MAX_HELD", 256)),
            drain_seconds=float(getattr(settings, "CONSOLE_GATEWAY_DRAIN_SECONDS", 30.0)),
            upstream_timeout=float(getattr(settings, "CONSOLE_GATEWAY_UPSTREAM_TIMEOUT", 600.0)),
        )
