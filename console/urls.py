"""URL configuration: pages, the REST API under /api/, the OpenAPI schema, /metrics."""

from django.urls import include, path

from console.history.usage import UsageView
from console.promexport.views import metrics

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    # Before the API: its last pattern answers 404 for anything under /api/ it does not know.
    path("api/history/", include("console.history.urls")),
    path("api/usage/", UsageView.as_view(), name="usage"),
    path("api/usage.csv", UsageView.as_view(), {"format": "csv"}, name="usage-csv"),
    path("api/", include("console.api.urls")),
    path("sso/", include("console.sso.urls")),
    path("", include("console.web.urls")),
]
