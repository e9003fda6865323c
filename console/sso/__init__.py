"""Single sign-on: OpenID Connect login (mozilla-django-oidc), groups mapped to roles."""
