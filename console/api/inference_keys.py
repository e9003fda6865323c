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
from console.models.gateway import LIMIT_MAXIMUMS, InferenceKey
from console.roles import Action


def limit(help_text: str, name: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=LIMIT_MAXIMUMS[name],
        help_text=f"{help_text} Absent or null: no limit.",
    )  # fmt: skip


class InferenceKeySerializer(serializers.ModelSerializer[InferenceKey]):
    """A key as listed: its visible prefix and limits, never the key or its hash."""

    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Served model names it may use; empty: every model.",
    )
    requests_per_minute = limit("Requests in any 60 s.", "requests_per_minute")
    tokens_per_minute = limit(
        "Prompt + completion tokens in any 60 s (counted from the engines' usage).",
        "tokens_per_minute",
    )
    max_concurrent = limit("Requests in flight at once, held ones included.", "max_concurrent")

    class Meta:
        model = InferenceKey
        fields = (
            "id", "name", "prefix", "allowed_models", "requests_per_minute",
            "tokens_per_minute", "max_concurrent", "created_by", "created_at", "revoked_at",
            "last_used_at",
        )  # fmt: skip
        read_only_fields = ("prefix", "created_at", "revoked_at", "last_used_at")


class IssuedKeySerializer(InferenceKeySerializer):
    """The answer to an issue: the only time the key itself is shown."""

    key = serializers.CharField(read_only=True)

    class Meta:
        model = InferenceKey
        fields: tuple[str, ...] = (*InferenceKeySerializer.Meta.fields, "key")
        read_only_fields = InferenceKeySerializer.Meta.read_only_fields


class KeyLimitsSerializer(serializers.ModelSerializer[InferenceKey]):
    """``PATCH``: a key's limits, the only thing about a key that changes (null: no limit)."""

    requests_per_minute = limit("Requests in any 60 s.", "requests_per_minute")
    tokens_per_minute = limit("Prompt + completion tokens in any 60 s.", "tokens_per_minute")
    max_concurrent = limit("Requests in flight at once, held ones included.", "max_concurrent")

    class Meta:
        model = InferenceKey
        fields = tuple(LIMIT_MAXIMUMS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted(set(self.initial_data) - set(self.fields))
        if fixed:
            raise serializers.ValidationError(
                dict.fromkeys(fixed, "cannot be changed; only the limits can.")
            )
        return attrs

    def update(self, instance: InferenceKey, validated_data: dict[str, Any]) -> InferenceKey:
        """Save the limits given that differ, and only them (``InferenceKey.set_limits``)."""
        instance.set_limits(validated_data)
        return instance


class InferenceKeyViewSet(
    ConsoleAPIView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[InferenceKey],
):
    """Admins only. ``DELETE`` revokes the key (it stays listed, unusable, for the record);
    ``PATCH`` changes its limits, which every gateway process applies at once."""

    serializer_class = InferenceKeySerializer
    read_action = Action.MANAGE_TOKENS
    write_action = Action.MANAGE_TOKENS
    audit_type = "inference_key"

    def get_queryset(self) -> QuerySet[InferenceKey]:
        return InferenceKey.objects.select_related("created_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = InferenceKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        row, key = InferenceKey.issue(
            data["name"],
            data.get("allowed_models", []),
            created_by_id=request.user.pk,
            **{name: data.get(name) for name in LIMIT_MAXIMUMS},
        )
        self.audit_target = row
        row.key = key  # type: ignore[attr-defined]  # shown once, never stored
        response = Response(IssuedKeySerializer(row).data, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)  # the key is in this answer, and only here
        return response

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.get_object()
        self.audit_target = row
        if row.revoked_at is not None:
            raise Conflict("This key is revoked.")
        body = KeyLimitsSerializer(row, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        body.save()
        return Response(InferenceKeySerializer(row).data)

    def perform_destroy(self, instance: InferenceKey) -> None:
        self.audit_target = instance
        if instance.revoked_at is not None:
            raise Conflict("This key is already revoked.")
        instance.revoked_at = timezone.now()
        instance.save(update_fields=["revoked_at"])

    def get_serializer_class(self) -> type[BaseSerializer[InferenceKey]]:
        return IssuedKeySerializer if self.action == "create" else InferenceKeySerializer
