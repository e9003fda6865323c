"""WebSocket routes: the dashboard feed and the per-instance feed."""

from django.urls import URLPattern, path

from console.realtime.consumers import ConsoleConsumer, InstanceConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/console/", ConsoleConsumer.as_asgi()),
    path("ws/instances/<int:instance_id>/", InstanceConsumer.as_asgi()),
]
