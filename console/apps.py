"""The single Django app that holds the console's models, pages and API."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "vLLM Console"
