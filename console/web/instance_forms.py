"""Admin pages to register, edit and delete an instance .

The API's serializer judges what the page sends (one set of rules and messages for both);
this module only turns the form's text into the serializer's types and back. Secrets
(``api_key``, ``launch_env``) are write-only: the page never shows them, an empty box keeps
the stored value, and a checkbox clears it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from console import audit
from console.api.serializers import InstanceSerializer
from console.api.views import probe_on_commit, probed_fields
from console.models import Gpu, Host, Instance, Outcome
from console.models.jobs import ACTIVE
from console.roles import Action
from console.web.views import ConsolePageMixin
from engines.launcher import redact_command

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class FieldSpec:
    """One input of the form: its serializer field, label, input kind and help."""

    name: str
    label: str
    kind: str = "text"
    help: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "Name", help="Letters, digits, - and _; shown everywhere."),
    FieldSpec("served_model_name", "Served model name",
              help="The model name the engine answers to (its --served-model-name)."),
    FieldSpec("base_url", "Base URL", help="Where the engine listens, e.g. http://gpu-1:8000."),
    FieldSpec("api_key", "Engine API key", "secret",
              "The engine's --api-key, if any. Never shown again; leave empty to keep it."),
    FieldSpec("host", "Host", "host",
              "The GPU host the engine runs on: its agent follows the log and attributes "
              "GPU memory; needed to launch."),
    FieldSpec("gpus", "GPUs", "gpus", "The GPUs of that host the engine uses."),
    FieldSpec("log_path", "Log file",
              help="Absolute path of the engine's log, for an engine the console did not "
                   "launch: its sleep and wake seconds come from it."),
    FieldSpec("launch_executable", "Launch command", help="For launching: e.g. vllm."),
    FieldSpec("launch_model", "Launch model", help="For launching: the model to serve."),
    FieldSpec("launch_args", "Launch arguments", "textarea",
              "Extra vllm serve flags, as you would type them in a shell."),
    FieldSpec("launch_env", "Launch environment", "env",
              "KEY=VALUE per line. Never shown again; leave empty to keep it."),
    FieldSpec("gpu_memory_utilization", "GPU memory utilization", "number"),
    FieldSpec("expected_weights_gib", "Weights (GiB)", "number"),
    FieldSpec("expected_kv_cache_gib", "KV cache (GiB)", "number"),
    FieldSpec("idle_sleep_l1_seconds", "Idle seconds before level-1 sleep", "number"),
    FieldSpec("idle_sleep_l2_seconds", "Idle seconds before level-2 sleep", "number"),
    FieldSpec("pinned_awake", "Pinned awake", "checkbox",
              "Never put to sleep by the idle policy or a switch."),
)  # fmt: skip
SECRETS = {"api_key": "clear_api_key", "launch_env": "clear_launch_env"}


def form_data(post: QueryDict) -> tuple[dict[str, Any], Errors]:
    """The serializer's input from the form's text, and the errors of what cannot parse."""
    data: dict[str, Any] = {}
    errors: Errors = {}
    for spec in FIELDS:
        raw = post.get(spec.name, "")
        if spec.kind == "gpus":
            data["gpus"] = post.getlist("gpus")
        elif spec.kind == "checkbox":
            data[spec.name] = spec.name in post
        elif spec.kind in {"number", "host"}:
            data[spec.name] = raw.strip() or None
        elif spec.kind == "textarea":
            try:
                data[spec.name] = shlex.split(raw)
            except ValueError as error:
                errors[spec.name] = [f"Cannot read these arguments: {error}."]
        elif spec.kind == "env":
            _secret_env(post, raw, data, errors)
        elif spec.kind == "secret":
            if raw or SECRETS[spec.name] in post:
                data[spec.name] = raw
        else:
            data[spec.name] = raw.strip()
    return data, errors


def _secret_env(post: QueryDict, raw: str, data: dict[str, Any], errors: Errors) -> None:
    if not raw.strip():
        if SECRETS["launch_env"] in post:
            data["launch_env"] = {}
        return
    env: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            errors["launch_env"] = [f"Line {number}: write KEY=VALUE."]
            return
        env[key.strip()] = value
    data["launch_env"] = env


@dataclass
class FieldView:
    """What the template shows for one input."""

    spec: FieldSpec
    value: Any
    errors: list[str] = field(default_factory=list)


def shown_values(instance: Instance | None, post: QueryDict | None) -> dict[str, Any]:
    """Each input's value: what was posted (after an error), else the row's; never a secret."""
    if post is not None:
        values: dict[str, Any] = {spec.name: post.get(spec.name, "") for spec in FIELDS}
        values["gpus"] = [int(pk) for pk in post.getlist("gpus") if pk.isdigit()]
        values["host"] = int(values["host"]) if str(values["host"]).isdigit() else None
        values["pinned_awake"] = "pinned_awake" in post
    elif instance is not None:
        values = {spec.name: getattr(instance, spec.name, "") for spec in FIELDS}
        values["host"] = instance.host_id
        values["gpus"] = [gpu.pk for gpu in instance.gpus.all()]
        values["launch_args"] = shlex.join(redact_command(instance.launch_args or []))
    else:
        values = {"launch_executable": "vllm", "gpus": [], "host": None}
    values["api_key"] = values["launch_env"] = ""
    return {name: "" if value is None else value for name, value in values.items()}


def field_views(values: dict[str, Any], errors: Errors) -> list[FieldView]:
    return [
        FieldView(spec, values.get(spec.name, ""), [str(e) for e in errors.get(spec.name, [])])
        for spec in FIELDS
    ]


def other_errors(errors: Errors) -> list[str]:
    """Errors of no one input (``non_field_errors``), shown above the form."""
    names = {spec.name for spec in FIELDS}
    return [str(error) for key, found in errors.items() if key not in names for error in found]


class InstanceFormView(ConsolePageMixin, TemplateView):
    """GET: the register (no pk) or edit form; POST: save through the API's serializer."""

    template_name = "instance_form.html"
    required_action = Action.MANAGE_INSTANCES

    def instance(self) -> Instance | None:
        pk = self.kwargs.get("pk")
        return get_object_or_404(Instance, pk=pk) if pk is not None else None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        instance = self.instance()
        post = kwargs.get("post")
        context.update(
            editing=instance,
            fields=field_views(shown_values(instance, post), kwargs.get("errors", {})),
            hosts=Host.objects.all(),
            gpus=Gpu.objects.select_related("host").order_by("host__name", "index"),
            has_api_key=bool(instance and instance.api_key),
            launch_env_keys=sorted(instance.launch_env) if instance else [],
            refused_busy=self.request.GET.get("refused") == "busy",
            other_errors=other_errors(kwargs.get("errors", {})),
        )
        return context

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        instance = self.instance()
        data, errors = form_data(request.POST)
        if instance is not None and data.get("launch_args") == redact_command(
            instance.launch_args or []
        ):
            # Unchanged: a secret flag stored before they were refused shows as ***;
            # saving it back unchanged must not store the mask.
            del data["launch_args"]
        serializer = InstanceSerializer(
            instance, data=data, partial=instance is not None, context={"request": request}
        )
        valid = serializer.is_valid()
        errors = {**{k: list(v) for k, v in serializer.errors.items()}, **errors}
        verb = "update" if instance else "create"
        if not valid or errors:
            audit.record(request, f"instance.{verb}", Outcome.FAILED, target=instance,
                         target_type="instance", detail={"errors": errors})  # fmt: skip
            context = self.get_context_data(post=request.POST, errors=errors)
            return self.render_to_response(context, status=400)
        with transaction.atomic():
            saved = serializer.save()
            if instance is None or probed_fields(serializer.validated_data):
                probe_on_commit(saved.pk)
        audit.record(request, f"instance.{verb}", Outcome.OK, target=saved)
        return redirect("instance", pk=saved.pk)


class DeleteInstanceView(ConsolePageMixin, View):
    """POST: forget the instance (its engine keeps running); refused while a job is active."""

    required_action = Action.MANAGE_INSTANCES

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        instance = get_object_or_404(Instance, pk=pk)
        if instance.jobs.filter(state__in=ACTIVE).exists():
            audit.record(request, "instance.delete", Outcome.REFUSED, target=instance)
            return redirect(f"{reverse('instance-edit', args=[pk])}?refused=busy")
        audit.record(request, "instance.delete", Outcome.OK, target=instance)
        instance.delete()
        return redirect("dashboard")
