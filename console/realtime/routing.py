"""WebSocket routes: the dashboard feed and the per-instance feed, same origin only."""

from django.urls import URLPattern, path

from console.realtime.consumers import ConsoleConsumer, InstanceConsumer
from console.realtime.origin import SameOriginValidator

websocket_urlpatterns: list[URLPattern] = [
    path("ws/console/", SameOriginValidator(ConsoleConsumer.as_asgi())),
    path("ws/instances/<int:instance_id>/", SameOriginValidator(InstanceConsumer.as_asgi())),
]
