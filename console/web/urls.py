"""Page routes: login and logout, the dashboard, instances, history, the audit log."""

from django.urls import path

from console.web.idle_policy import IdlePolicyView
from console.web.inference_keys import KeysView, RevokeKeyView
from console.web.instance_forms import DeleteInstanceView, InstanceFormView
from console.web.pages import AuditView, HistoryView, InstanceView
from console.web.views import DashboardView, LoginView, LogoutView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("instances/new/", InstanceFormView.as_view(), name="instance-new"),
    path("instances/<int:pk>/", InstanceView.as_view(), name="instance"),
    path("instances/<int:pk>/edit/", InstanceFormView.as_view(), name="instance-edit"),
    path("instances/<int:pk>/delete/", DeleteInstanceView.as_view(), name="instance-delete"),
    path("instances/<int:pk>/idle/", IdlePolicyView.as_view(), name="instance-idle"),
    path("history/", HistoryView.as_view(), name="history"),
    path("audit/", AuditView.as_view(), name="audit"),
    path("keys/", KeysView.as_view(), name="keys"),
    path("keys/<int:pk>/revoke/", RevokeKeyView.as_view(), name="key-revoke"),
]
