"""Sign-on routes (under /sso/)."""

from django.urls import path

from console.sso import views

urlpatterns = [
    path("start/", views.start, name="oidc_authentication_init"),
    path("callback/", views.callback, name="oidc_authentication_callback"),
    path("refused/", views.refused, name="sso-refused"),
]
