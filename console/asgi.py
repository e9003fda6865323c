"""ASGI entry point: HTTP through Django, WebSockets through Channels, ``/v1/`` to the gateway."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.gateway.app import GatewayApp  # noqa: E402
from console.realtime.routing import websocket_urlpatterns  # noqa: E402

# The gateway: the OpenAI-compatible /v1/ surface skips Django's request cycle.
gateway = GatewayApp()


async def http_router(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"].startswith("/v1/"):
        await gateway(scope, receive, send)
    else:
        await django_asgi(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_router,
        "lifespan": gateway,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
