"""Page routes: the dashboard, login and logout."""

from django.urls import path

from console.web.views import DashboardView, LoginView, LogoutView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
]
