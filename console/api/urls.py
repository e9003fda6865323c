"""API routes under /api/: resources, ``me``, the OpenAPI schema and its Swagger UI."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from console.api.actions import ACTION_VIEWS, CancelJobView
from console.api.base import AUTHENTICATION
from console.api.errors import NOT_FOUND_ROUTE, not_found
from console.api.inference_keys import InferenceKeyViewSet
from console.api.notification_rules import NotificationRuleViewSet
from console.api.schedules import ScheduleView
from console.api.views import AuditViewSet, HostViewSet, InstanceViewSet, JobViewSet, MeView
from console.roles import Action, RolePermission, role_required

router = SimpleRouter()
router.register("instances", InstanceViewSet, basename="instance")
router.register("jobs", JobViewSet, basename="job")
router.register("hosts", HostViewSet, basename="host")
router.register("audit", AuditViewSet, basename="audit")
router.register("inference-keys", InferenceKeyViewSet, basename="inference-key")
router.register("notification-rules", NotificationRuleViewSet, basename="notification-rule")

schema_view = SpectacularAPIView.as_view(
    authentication_classes=AUTHENTICATION, permission_classes=(RolePermission,)
)
# A page, not an endpoint: anonymous browsers are sent to the login form. The UI's assets
# come from drf_spectacular_sidecar's static files (settings: SWAGGER_UI_DIST="SIDECAR").
# The split view serves its start-up script from ?script= instead of inline, which the
# Content-Security-Policy forbids; the page's one inline <style> block is allowed here only.
docs_view = role_required(Action.VIEW)(
    csp_update({"style-src": [UNSAFE_INLINE]})(
        SpectacularSwaggerSplitView.as_view(url_name="schema")
    )
)

urlpatterns = [
    path("", include(router.urls)),
    *(
        path(f"instances/<int:pk>/{verb}/", view.as_view(), name=f"instance-{verb}")
        for verb, view in ACTION_VIEWS.items()
    ),
    path("instances/<int:pk>/schedule/", ScheduleView.as_view(), name="instance-schedule"),
    path("jobs/<int:pk>/cancel/", CancelJobView.as_view(), name="job-cancel"),
    path("me/", MeView.as_view(), name="me"),
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="docs"),
    # Keep last: anything not matched above is an unknown endpoint (a JSON 404).
    re_path(r"^(?P<path>.*)$", not_found, name=NOT_FOUND_ROUTE),
]
