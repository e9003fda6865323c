"""Operating instances: ``POST /api/instances/<id>/{sleep,wake,switch,launch,stop}/``.

Each request becomes a Job (HTTP 202 with the job). An instance with a job already queued
or running answers 409 with that job's id, unless the body asks to ``queue`` behind it.
A queued job is withdrawn with ``POST /api/jobs/<id>/cancel/`` (200 with the job); the job
queued behind it, if any, is then sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from console import audit
from console.api.base import ConsoleAPIView, _outcome
from console.api.serializers import JobSerializer
from console.jobs.lifecycle import cancel
from console.jobs.service import JobConflictError, JobRefusedError, JobRequest, request_job
from console.models import Instance, Job, JobKind, JobState
from console.roles import Action

# A switch's "sleep" list is stored with the job and shown to every viewer: a few
# neighbours on the target's GPUs, never thousands of ids.
MAX_SWITCH_SLEEP = 64
MAX_ID = 2**63 - 1  # a BigAutoField; beyond it SQLite's driver overflows


class QueueSerializer(serializers.Serializer[dict[str, Any]]):
    queue = serializers.BooleanField(
        default=False, help_text="Queue behind the instance's active job instead of a 409."
    )


class SleepSerializer(QueueSerializer):
    level = serializers.ChoiceField(
        choices=[1, 2], default=1, help_text="1: weights to host RAM; 2: weights dropped."
    )


class WakeSerializer(QueueSerializer):
    tags = serializers.ListField(
        child=serializers.ChoiceField(choices=["weights", "kv_cache"]),
        required=False,
        allow_empty=False,
        help_text="Wake only these (vLLM 0.8.5+); all when absent.",
    )


class SwitchSerializer(QueueSerializer):
    level = serializers.ChoiceField(
        choices=[1, 2], required=False, help_text="Sleep level for the instances put aside."
    )
    sleep = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_SWITCH_SLEEP,
        error_messages={"max_length": "at most {max_length} instances may be put to sleep"},
        help_text="Instances sharing a GPU with this one to put to sleep even if it fits "
        "beside them.",
    )

    def validate_sleep(self, ids: list[int]) -> list[int]:
        """Existing instances on the target's GPUs, the target excluded, each named once."""
        target: Instance = self.context["instance"]
        unique = list(dict.fromkeys(ids))
        if target.pk in unique:
            raise serializers.ValidationError(f"{target.pk} is the instance being switched itself")
        found = set(Instance.objects.filter(pk__in=unique).values_list("pk", flat=True))
        missing = [pk for pk in unique if pk not in found]
        if missing:
            raise serializers.ValidationError(f"no instance with id {', '.join(map(str, missing))}")
        sharing = set(
            Instance.objects.filter(pk__in=unique, gpus__in=target.gpus.all()).values_list(
                "pk", flat=True
            )
        )
        apart = [pk for pk in unique if pk not in sharing]
        if apart:
            ids_apart = ", ".join(map(str, apart))
            raise serializers.ValidationError(f"{ids_apart} share no GPU with {target.name}")
        return unique


class ConflictSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    job = serializers.IntegerField(required=False)


class InstanceActionView(ConsoleAPIView):
    """Base: validate the body, ask for the job, answer 202, 409 or 400."""

    kind: ClassVar[JobKind]
    body: ClassVar[type[QueueSerializer]] = QueueSerializer
    pagination_class = None
    audit_type = "instance"

    def post(self, request: Request, pk: int) -> Response:
        instance = get_object_or_404(Instance, pk=pk)
        self.audit_target = instance
        body = self.body(data=request.data, context={"instance": instance})
        body.is_valid(raise_exception=True)
        params = {k: v for k, v in body.validated_data.items() if k != "queue"}
        user = request.user if request.user.is_authenticated else None
        try:
            job = request_job(
                JobRequest(
                    instance.pk, self.kind, params, getattr(user, "pk", None),
                    audit.remote_addr(request) or None, body.validated_data["queue"],
                )
            )  # fmt: skip
        except JobConflictError as conflict:
            return Response(
                {"detail": str(conflict), "job": conflict.job_id}, status.HTTP_409_CONFLICT
            )
        except JobRefusedError as refusal:
            return Response({"detail": str(refusal)}, status.HTTP_409_CONFLICT)
        return Response(
            JobSerializer(job, context={"request": request}).data, status.HTTP_202_ACCEPTED
        )

    def audit(self, request: Request, response: Response) -> None:
        audit.record(
            request,
            f"job.{self.kind}",
            _outcome(response.status_code),
            target=self.audit_target,
            target_type="instance",
            target_id=str(self.kwargs.get("pk", "")),
            detail={"status": response.status_code, "job": (response.data or {}).get("id")},
        )


RESPONSES = {
    202: JobSerializer,
    409: OpenApiResponse(ConflictSerializer, "An active job, or the instance's state forbids it."),
}


def documented(body: type[QueueSerializer]) -> Any:
    """The operation's request body and answers in the OpenAPI schema."""
    return extend_schema_view(post=extend_schema(request=body, responses=RESPONSES))


@documented(SleepSerializer)
class SleepView(InstanceActionView):
    """Put the instance to sleep (level 1 or 2)."""

    kind = JobKind.SLEEP
    write_action = Action.SLEEP
    body = SleepSerializer


@documented(WakeSerializer)
class WakeView(InstanceActionView):
    """Wake the instance (all of it, or some tags); level 2 reloads the weights."""

    kind = JobKind.WAKE
    write_action = Action.WAKE
    body = WakeSerializer


@documented(SwitchSerializer)
class SwitchView(InstanceActionView):
    """Make the instance awake, putting to sleep the instances in its way on its GPUs."""

    kind = JobKind.SWITCH
    write_action = Action.SWITCH
    body = SwitchSerializer


@documented(QueueSerializer)
class LaunchView(InstanceActionView):
    """Start the instance's engine on its host (by the host's agent)."""

    kind = JobKind.LAUNCH
    write_action = Action.LAUNCH


@documented(QueueSerializer)
class StopView(InstanceActionView):
    """Stop an engine the console launched (SIGTERM, then SIGKILL)."""

    kind = JobKind.STOP
    write_action = Action.STOP


ACTION_VIEWS = {
    "sleep": SleepView,
    "wake": WakeView,
    "switch": SwitchView,
    "launch": LaunchView,
    "stop": StopView,
}


class NotQueuedSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    state = serializers.ChoiceField(choices=JobState.choices)


@extend_schema_view(
    post=extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(NotQueuedSerializer, "The job is no longer queued."),
        },
    )
)
class CancelJobView(ConsoleAPIView):
    """Withdraw a queued job before a worker takes it; the job queued behind it is sent.

    A running job cannot be cancelled: the engine may be half way through a sleep or a
    wake, and only the job's own outcome says where it stopped.
    """

    write_action = Action.CANCEL
    pagination_class = None
    audit_type = "job"

    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job, pk=pk)
        self.audit_target = job
        if not cancel(job.pk, by=request.user.get_username()):
            job.refresh_from_db(fields=["state"])
            return Response(
                {
                    "detail": f"job {job.pk} is {job.state}, not queued: only a job that no "
                    "worker has taken yet can be cancelled",
                    "state": job.state,
                },
                status.HTTP_409_CONFLICT,
            )
        job.refresh_from_db()
        return Response(JobSerializer(job, context={"request": request}).data)

    def audit(self, request: Request, response: Response) -> None:
        job = self.audit_target
        audit.record(
            request,
            "job.cancel",
            _outcome(response.status_code),
            target=job,
            target_type="job",
            target_id=str(self.kwargs.get("pk", "")),
            detail={
                "status": response.status_code,
                "instance": getattr(job, "instance_id", None),
            },
        )
