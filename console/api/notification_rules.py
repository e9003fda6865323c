"""Alert rules at ``/api/notification-rules/`` (admins): CRUD, a test send, deliveries.

A rule's Apprise URL is write-only: answers show ``masked_url`` (Apprise's privacy form),
and the audit keeps field names only (``ConsoleAPIView``), never the URL.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from console.api.base import ConsoleAPIView, Pagination
from console.models.notifications import (
    AlertKind,
    DeliveryState,
    NotificationDelivery,
    NotificationRule,
)
from console.notifications import delivery, targets
from console.notifications.alerts import send_delivery
from console.roles import Action

URL_HELP = (
    "An Apprise URL (json://host:port/path, slack://…, mailto://…). Write-only: answers show "
    "masked_url. Leave it out of an update to keep the stored one."
)


class NotificationRuleSerializer(serializers.ModelSerializer[NotificationRule]):
    """A rule as shown and written; ``url`` is accepted, never returned."""

    url = serializers.CharField(
        write_only=True, required=False, max_length=2000, help_text=URL_HELP
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=AlertKind.choices),
        required=False,
        help_text="Event names the rule sends; empty or left out: every event.",
    )

    class Meta:
        model = NotificationRule
        fields = (
            "id", "name", "url", "masked_url", "events", "enabled", "max_per_hour",
            "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = ("masked_url", "created_at", "updated_at")

    def validate_url(self, value: str) -> str:
        try:
            targets.parse(value)
        except targets.BadTargetError as bad:
            raise serializers.ValidationError(str(bad)) from None
        return value.strip()

    def validate_events(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "url" in attrs:
            attrs["masked_url"] = targets.masked(attrs["url"])
        elif self.instance is None:
            raise serializers.ValidationError({"url": "This field is required."})
        return attrs


class NotificationDeliverySerializer(serializers.ModelSerializer[NotificationDelivery]):
    """One delivery: what was sent, whether it went, and why not (secrets scrubbed)."""

    class Meta:
        model = NotificationDelivery
        fields = (
            "id", "rule", "kind", "summary", "details", "state", "attempts", "error",
            "created_at", "finished_at",
        )  # fmt: skip
        read_only_fields = fields


class NotificationRuleViewSet(ConsoleAPIView, viewsets.ModelViewSet[NotificationRule]):
    """Admins only, reads included (a rule's targets say where alerts go)."""

    serializer_class = NotificationRuleSerializer
    read_action = Action.MANAGE_ALERTS
    write_action = Action.MANAGE_ALERTS
    audit_type = "notification_rule"
    http_method_names = ("get", "post", "patch", "put", "delete", "head", "options")

    def get_queryset(self) -> QuerySet[NotificationRule]:
        return NotificationRule.objects.all()

    def perform_create(self, serializer: serializers.BaseSerializer[NotificationRule]) -> None:
        self.audit_target = serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer[NotificationRule]) -> None:
        self.audit_target = serializer.save()

    def perform_destroy(self, instance: NotificationRule) -> None:
        self.audit_target = instance
        instance.delete()

    @extend_schema(request=None, responses={202: NotificationDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Send a test to this rule's target (by a worker); the answer is its delivery."""
        rule = self.get_object()
        self.audit_target = rule
        made = delivery.open_test(rule, request.user.get_username())
        if made.state == DeliveryState.PENDING:
            send_delivery(made.pk)
        answer = NotificationDeliverySerializer(made).data
        return Response(answer, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=NotificationDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        """The rule's deliveries, newest first."""
        rows = NotificationDelivery.objects.filter(rule=self.get_object())
        pager = Pagination()
        page = pager.paginate_queryset(rows, request, view=self) or []
        return pager.get_paginated_response(NotificationDeliverySerializer(page, many=True).data)
