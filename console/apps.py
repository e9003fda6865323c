"""The single Django app that holds the console's models, pages and API."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "vLLM Console"

    def ready(self) -> None:
        # Signal receivers of the live feed (state changes, new jobs, users losing access)
        # and of the gateway (state and key changes pushed to its web processes).
        from console.gates import changes  # noqa: F401
        from console.gateway import keyversion  # noqa: F401
        from console.realtime import notify, revocation  # noqa: F401
