"""History routes, mounted at ``/api/history/`` (before the API's catch-all 404)."""

from django.urls import URLPattern, path

from console.history.views import (
    GatewayHistoryView,
    LatencyHistoryView,
    MemoryHistoryView,
    TimingsHistoryView,
)

urlpatterns: list[URLPattern] = [
    path("memory/", MemoryHistoryView.as_view(), name="history-memory"),
    path("timings/", TimingsHistoryView.as_view(), name="history-timings"),
    path("latency/", LatencyHistoryView.as_view(), name="history-latency"),
    path("gateway/", GatewayHistoryView.as_view(), name="history-gateway"),
]
