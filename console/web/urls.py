"""Page routes: login and logout, the dashboard, instances, jobs, hosts, history, the audit
log, and the admin pages for users, REST tokens and inference keys."""

from django.urls import path

from console.web.alert_rules import (
    AlertRuleView,
    AlertsView,
    DeleteAlertRuleView,
    SendTestAlertView,
)
from console.web.audit_log import AuditView
from console.web.hosts import HostsView
from console.web.idle_policy import IdlePolicyView
from console.web.inference_keys import KeyLimitsView, KeysView, RevokeKeyView
from console.web.instance_forms import DeleteInstanceView, InstanceFormView
from console.web.job_detail import JobDetailView
from console.web.pages import HistoryView, InstanceView
from console.web.rest_tokens import RevokeTokenView, TokensView
from console.web.schedule_form import ScheduleFormView
from console.web.users import UserActiveView, UserPasswordView, UserRoleView, UsersView
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
    path("instances/<int:pk>/schedule/", ScheduleFormView.as_view(), name="instance-schedule-form"),
    path("history/", HistoryView.as_view(), name="history"),
    path("audit/", AuditView.as_view(), name="audit"),
    path("keys/", KeysView.as_view(), name="keys"),
    path("keys/<int:pk>/limits/", KeyLimitsView.as_view(), name="key-limits"),
    path("keys/<int:pk>/revoke/", RevokeKeyView.as_view(), name="key-revoke"),
    path("alerts/", AlertsView.as_view(), name="alerts"),
    path("alerts/<int:pk>/", AlertRuleView.as_view(), name="alert-rule"),
    path("alerts/<int:pk>/delete/", DeleteAlertRuleView.as_view(), name="alert-rule-delete"),
    path("alerts/<int:pk>/test/", SendTestAlertView.as_view(), name="alert-rule-test"),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="job"),
    path("hosts/", HostsView.as_view(), name="hosts"),
    path("users/", UsersView.as_view(), name="users"),
    path("users/<int:pk>/role/", UserRoleView.as_view(), name="user-role"),
    path("users/<int:pk>/active/", UserActiveView.as_view(), name="user-active"),
    path("users/<int:pk>/password/", UserPasswordView.as_view(), name="user-password"),
    path("tokens/", TokensView.as_view(), name="tokens"),
    path("tokens/revoke/", RevokeTokenView.as_view(), name="token-revoke"),
]
