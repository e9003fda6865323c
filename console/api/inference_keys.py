"""Inference keys for the ``/v1/`` gateway: admins issue (the key is shown once) and revoke."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from console.api.base import ConsoleAPIView
from console.api.errors import Conflict
from console.models.gateway import InferenceKey
from console.roles import Action


class InferenceKeySerializer(serializers.ModelSerializer[InferenceKey]):
    """A key as listed: its visible prefix, never the key or its hash."""

    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Served model names it may use; empty: every model.",
    )

    class Meta:
        model = InferenceKey
        fields = (
            "id", "name", "prefix", "allowed_models", "created_by", "created_at",
            "revoked_at", "last_used_at",
        )  # fmt: skip
        read_only_fields = ("prefix", "created_at", "revoked_at", "last_used_at")


class IssuedKeySerializer(InferenceKeySerializer):
    """The answer to an issue: the only time the key itself is shown."""

    key = serializers.CharField(read_only=True)

    class Meta:
        model = InferenceKey
        fields: tuple[str, ...] = (*InferenceKeySerializer.Meta.fields, "key")
        read_only_fields = InferenceKeySerializer.Meta.read_only_fields


class InferenceKeyViewSet(
    ConsoleAPIView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[InferenceKey],
):
    """Admins only. ``DELETE`` revokes the key (it stays listed, unusable, for the record)."""

    serializer_class = InferenceKeySerializer
    read_action = Action.MANAGE_TOKENS
    write_action = Action.MANAGE_TOKENS
    audit_type = "inference_key"

    def get_queryset(self) -> QuerySet[InferenceKey]:
        return InferenceKey.objects.select_related("created_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = InferenceKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row, key = InferenceKey.issue(
            body.validated_data["name"],
            body.validated_data.get("allowed_models", []),
            created_by_id=request.user.pk,
        )
        self.audit_target = row
        row.key = key  # type: ignore[attr-defined]  # shown once, never stored
        response = Response(IssuedKeySerializer(row).data, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)  # the key is in this answer, and only here
        return response

    def perform_destroy(self, instance: InferenceKey) -> None:
        self.audit_target = instance
        if instance.revoked_at is not None:
            raise Conflict("This key is already revoked.")
        instance.revoked_at = timezone.now()
        instance.save(update_fields=["revoked_at"])

    def get_serializer_class(self) -> type[BaseSerializer[InferenceKey]]:
        return IssuedKeySerializer if self.action == "create" else InferenceKeySerializer
