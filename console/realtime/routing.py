"""WebSocket routes (filled by the live-dashboard work)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
