"""The audit log page: filtered by who, what, outcome and time (the API's filters too),
paginated, newest first, each entry's detail in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.generic import ListView

from console.audit_query import AuditFilterForm, filter_entries
from console.models import AuditEntry
from console.roles import Action
from console.web.audit_details import detail_lines
from console.web.views import ConsolePageMixin

if TYPE_CHECKING:
    AuditListView = ListView[AuditEntry]
else:  # Django's generic views are not subscriptable at run time (django-stubs' are).
    AuditListView = ListView


@dataclass(frozen=True)
class AuditRow:
    """An entry as the page shows it: the row, its detail in words, and its job's page."""

    entry: AuditEntry
    lines: list[str]
    job_id: int | None


def job_of(entry: AuditEntry) -> int | None:
    """The job an entry is about: its target, or the one its detail names."""
    if entry.target_type == "job" and entry.target_id.isdigit():
        return int(entry.target_id)
    job = (entry.detail or {}).get("job")
    return job if isinstance(job, int) and not isinstance(job, bool) else None


class AuditView(ConsolePageMixin, AuditListView):
    """Who did what, when, from where, and how it ended; read-only.

    Bad filters are a 400 with the form's field errors and no entries."""

    template_name = "audit.html"
    required_action = Action.VIEW_AUDIT
    context_object_name = "entries"
    paginate_by = 50

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.filters = AuditFilterForm(request.GET)
        response = super().get(request, *args, **kwargs)
        if not self.filters.is_valid():
            response.status_code = 400
        return response

    def get_queryset(self) -> QuerySet[AuditEntry]:
        if not self.filters.is_valid():
            return AuditEntry.objects.none()
        return filter_entries(AuditEntry.objects.order_by("-at", "-id"), self.filters)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filters"] = self.filters
        context["rows"] = [
            AuditRow(entry, detail_lines(entry.action, entry.detail), job_of(entry))
            for entry in context["entries"]
        ]
        context["filtered"] = any(self.filters.data.get(name) for name in self.filters.fields)
        return context
