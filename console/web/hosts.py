"""The hosts page: every GPU host, its agent (online or not, last heartbeat, version), its
RAM and each GPU's memory. Hosts are registered by their agents (``manage.py agent``), not
by hand: the page reads them as the API does (``/api/hosts/``, read-only)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.views.generic import TemplateView

from console.models import Host, Instance
from console.roles import Action
from console.web.memory import host_cards
from console.web.views import ConsolePageMixin


class HostsView(ConsolePageMixin, TemplateView):
    """Hosts with their agents' state and their memory, from the latest samples."""

    template_name = "hosts.html"
    required_action = Action.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        hosts = Host.objects.prefetch_related("gpus")
        instances = Instance.objects.select_related("host").prefetch_related("gpus")
        context["cards"] = host_cards(hosts, instances, timezone.now())
        return context
