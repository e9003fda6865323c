"""REST endpoints: instances (admins write), jobs, hosts, the audit log, and ``me``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from console.api.base import ConsoleAPIView
from console.api.errors import Conflict
from console.api.serializers import (
    AuditEntrySerializer,
    HostSerializer,
    InstanceSerializer,
    JobSerializer,
    MeSerializer,
)
from console.audit_query import DATETIME_HELP, AuditFilterForm, filter_entries
from console.models import AuditEntry, Host, Instance, Job, JobKind, JobState, Outcome
from console.models.jobs import ACTIVE
from console.roles import Action, allowed_actions, role_of


def choice_filter(request: Request, name: str, choices: list[str]) -> str | None:
    """A query parameter that must be one of ``choices`` (400 otherwise)."""
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise ValidationError({name: f"Use one of: {', '.join(choices)}."})
    return value


def id_filter(request: Request, name: str) -> int | None:
    """A query parameter that must be a positive integer id (400 otherwise)."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise ValidationError({name: "Give the numeric id."})
    return int(value)


# What decides which engine answers and whether it is the one registered.
PROBED_BY = {"base_url", "served_model_name", "api_key"}
RECONCILE_TASK = "console.tasks.reconcile_instance"


def probed_fields(changed: Mapping[str, Any]) -> bool:
    """Whether a change may make another engine answer, or the same one be judged again."""
    return bool(PROBED_BY & set(changed))


def probe_on_commit(instance_id: int) -> None:
    """Ask the engine at once (an adopted one need not wait for the next reconcile round)."""
    # Sent by name: ``console.tasks`` imports the jobs, which the API imports.
    transaction.on_commit(lambda: current_app.send_task(RECONCILE_TASK, (instance_id,)))


class InstanceViewSet(ConsoleAPIView, viewsets.ModelViewSet[Instance]):
    """Registered instances: every role reads them, admins create, edit and delete them."""

    serializer_class = InstanceSerializer
    write_action = Action.MANAGE_INSTANCES
    audit_type = "instance"
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def get_queryset(self) -> QuerySet[Instance]:
        return Instance.objects.select_related("host").prefetch_related("gpus")

    def perform_create(self, serializer: BaseSerializer[Instance]) -> None:
        self.audit_target = instance = serializer.save()
        probe_on_commit(instance.pk)

    def perform_update(self, serializer: BaseSerializer[Instance]) -> None:
        self.audit_target = instance = serializer.save()
        if probed_fields(serializer.validated_data):
            probe_on_commit(instance.pk)

    def perform_destroy(self, instance: Instance) -> None:
        self.audit_target = instance
        if instance.jobs.filter(state__in=ACTIVE).exists():
            raise Conflict("The instance has a queued or running job; wait or cancel it.")
        instance.delete()


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("instance", int, description="Only jobs of this instance."),
            OpenApiParameter("state", str, enum=JobState.values),
            OpenApiParameter("kind", str, enum=JobKind.values),
        ]
    )
)
class JobViewSet(ConsoleAPIView, viewsets.ReadOnlyModelViewSet[Job]):
    """Jobs, newest first; filter with ``?instance=&state=&kind=``."""

    serializer_class = JobSerializer
    audit_type = "job"

    def get_queryset(self) -> QuerySet[Job]:
        jobs = Job.objects.select_related("requested_by")
        instance = id_filter(self.request, "instance")
        if instance is not None:
            jobs = jobs.filter(instance_id=instance)
        state = choice_filter(self.request, "state", JobState.values)
        if state is not None:
            jobs = jobs.filter(state=state)
        kind = choice_filter(self.request, "kind", JobKind.values)
        if kind is not None:
            jobs = jobs.filter(kind=kind)
        return jobs


class HostViewSet(ConsoleAPIView, viewsets.ReadOnlyModelViewSet[Host]):
    """GPU hosts with their GPUs (agents register them; reading needs any role)."""

    serializer_class = HostSerializer
    queryset = Host.objects.prefetch_related("gpus")
    audit_type = "host"


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "action", str, description="An action (instance.create) or a kind (instance)."
            ),
            OpenApiParameter("outcome", str, enum=Outcome.values),
            OpenApiParameter("username", str),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description=DATETIME_HELP),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description=DATETIME_HELP),
        ]
    )
)
class AuditViewSet(ConsoleAPIView, mixins.ListModelMixin, viewsets.GenericViewSet[AuditEntry]):
    """The audit log, newest first (admins only; nobody can change it); the audit page's
    filters, with the same errors."""

    serializer_class = AuditEntrySerializer
    read_action = Action.VIEW_AUDIT
    audit_type = "audit"

    def get_queryset(self) -> QuerySet[AuditEntry]:
        filters = AuditFilterForm(self.request.query_params)
        if not filters.is_valid():
            raise ValidationError(filters.errors.get_json_data())
        return filter_entries(AuditEntry.objects.all(), filters)


class MeView(ConsoleAPIView):
    """The caller's username, role and allowed actions."""

    audit_type = "me"

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        role = role_of(request.user)
        data = {
            "username": request.user.get_username(),
            "role": role.label if role is not None else None,
            "actions": [str(action) for action in allowed_actions(request.user)],
        }
        return Response(MeSerializer(data).data)
