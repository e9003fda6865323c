"""Reading the audit log: the filters the audit page and ``/api/audit/`` share (who, what,
outcome, time range), judged by one form so both give the same answers and errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from console.models import AuditEntry, Outcome

DATETIME_HELP = "e.g. 2026-12-03T09:00 (UTC unless an offset is given)"


class AuditFilterForm(forms.Form):
    """Every field optional; an empty form selects every entry."""

    username = forms.CharField(required=False, max_length=150, label="Who")
    action = forms.CharField(
        required=False,
        max_length=64,
        label="What",
        help_text="An action (user.role) or all of a kind (user).",
    )
    outcome = forms.ChoiceField(required=False, choices=[("", "any"), *Outcome.choices])
    since = forms.DateTimeField(required=False, label="From", help_text=DATETIME_HELP)
    until = forms.DateTimeField(required=False, label="Until", help_text=DATETIME_HELP)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "Give a time after 'From'.")
        return cleaned


def filter_entries(entries: QuerySet[AuditEntry], form: AuditFilterForm) -> QuerySet[AuditEntry]:
    """``entries`` narrowed by a valid form's filters."""
    values = form.cleaned_data
    if values.get("username"):
        entries = entries.filter(username=values["username"])
    action: str = values.get("action") or ""
    if "." in action:
        entries = entries.filter(action=action)
    elif action:
        entries = entries.filter(action__startswith=f"{action}.")
    if values.get("outcome"):
        entries = entries.filter(outcome=values["outcome"])
    if values.get("since"):
        entries = entries.filter(at__gte=values["since"])
    if values.get("until"):
        entries = entries.filter(at__lte=values["until"])
    return entries
