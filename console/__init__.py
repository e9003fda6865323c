"""The vLLM Console: the Django project and the web side."""

from console.celery import app as celery_app

__all__ = ["celery_app"]
