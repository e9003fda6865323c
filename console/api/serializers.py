"""API representations. Secrets (``api_key``, ``launch_env``) are write-only for everyone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from django.utils import timezone
from rest_framework import serializers

from console.models import AuditEntry, Gpu, Host, Instance, Job
from console.models.validators import refuse_console_itself
from console.roles import Action, without_restricted
from engines.launcher import redact_command


class RoleAwareSerializer(serializers.ModelSerializer[Any]):
    """Drops the fields in ``restricted`` that the requesting user's role may not see."""

    restricted: ClassVar[dict[str, Action]] = {}

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        request = self.context.get("request")
        return without_restricted(getattr(request, "user", None), data, self.restricted)


class GpuSerializer(serializers.ModelSerializer[Gpu]):
    """One GPU of a host."""

    class Meta:
        model = Gpu
        fields = ("id", "index", "uuid", "name", "total_bytes")


class HostSerializer(serializers.ModelSerializer[Host]):
    """A host, its GPUs, and whether its agent is heartbeating."""

    gpus = GpuSerializer(many=True, read_only=True)
    online = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = (
            "id",
            "name",
            "address",
            "last_heartbeat",
            "agent_version",
            "online",
            "gpus",
            "created_at",
        )

    def get_online(self, host: Host) -> bool:
        return host.is_online(timezone.now())


# Instance fields that decide how much a level-1 backup pins.
_PINNED_BY = ("launch_executable", "launch_model", "launch_args", "expected_weights_gib")


class InstanceSerializer(RoleAwareSerializer):
    """An instance. ``api_key`` and ``launch_env`` can be written, never read back."""

    has_api_key = serializers.BooleanField(read_only=True)
    launch_env_keys = serializers.SerializerMethodField()
    restricted: ClassVar[dict[str, Action]] = {"launch_env_keys": Action.MANAGE_INSTANCES}

    class Meta:
        model = Instance
        fields = (
            "id",
            "name",
            "served_model_name",
            "base_url",
            "api_key",
            "has_api_key",
            "host",
            "gpus",
            "launch_executable",
            "launch_model",
            "launch_args",
            "launch_env",
            "launch_env_keys",
            "gpu_memory_utilization",
            "expected_weights_gib",
            "expected_kv_cache_gib",
            "vllm_version",
            "state",
            "sleep_level",
            "state_changed_at",
            "last_seen",
            "state_detail",
            "pid",
            "log_path",
            "is_demo",
            "idle_sleep_l1_seconds",
            "idle_sleep_l2_seconds",
            "pinned_awake",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "vllm_version",
            "state",
            "sleep_level",
            "state_changed_at",
            "last_seen",
            "state_detail",
            "pid",
        )
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            "api_key": {"write_only": True, "style": {"input_type": "password"}},
            "launch_env": {"write_only": True},
        }

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if isinstance(data.get("launch_args"), list):
            # Rows stored before secret flags were refused may hold one: never shown.
            data["launch_args"] = redact_command(data["launch_args"])
        return data

    def get_launch_env_keys(self, instance: Instance) -> list[str]:
        return sorted(instance.launch_env)

    def validate_base_url(self, value: str) -> str:
        request = self.context.get("request")
        port = str(request.get_port()) if request is not None else ""
        if port.isdigit():  # the port this console answered the request on
            refuse_console_itself(value, int(port))
        return value.rstrip("/")

    def validate_log_path(self, value: str) -> str:
        """An adopted engine's log, followed by its host's agent (checked here, on
        the console's machine, which is the agent's in a one-machine install)."""
        if not value or (self.instance is not None and value == self.instance.log_path):
            return value  # unchanged: a launched engine's log may be gone since it stopped
        path = Path(value)
        if "\x00" in value or not path.is_absolute():
            raise serializers.ValidationError("Give the log file's absolute path.")
        if not path.is_file():
            raise serializers.ValidationError(f"No file at {value}.")
        if not os.access(path, os.R_OK):
            raise serializers.ValidationError(f"The console may not read {value}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        host = attrs.get("host", current.host if current else None)
        gpus = attrs.get("gpus", list(current.gpus.all()) if current else [])
        if gpus and host is None:
            raise serializers.ValidationError({"gpus": "Choose the host these GPUs belong to."})
        foreign = sorted(str(gpu) for gpu in gpus if gpu.host_id != getattr(host, "pk", None))
        if foreign:
            raise serializers.ValidationError(
                {"gpus": f"Not GPUs of host {host}: {', '.join(foreign)}."}
            )
        light = attrs.get("idle_sleep_l1_seconds", getattr(current, "idle_sleep_l1_seconds", None))
        deep = attrs.get("idle_sleep_l2_seconds", getattr(current, "idle_sleep_l2_seconds", None))
        if light is not None and deep is not None and deep <= light:
            raise serializers.ValidationError(
                {"idle_sleep_l2_seconds": "Must be longer than the level-1 idle time."}
            )
        return attrs

    def update(self, instance: Instance, validated_data: dict[str, Any]) -> Instance:
        # What the last level-1 backup pinned was measured for this model and these arguments.
        if any(
            field in validated_data and validated_data[field] != getattr(instance, field)
            for field in _PINNED_BY
        ):
            validated_data["pinned_backup_bytes"] = None
        updated: Instance = super().update(instance, validated_data)
        return updated


class JobSerializer(RoleAwareSerializer):
    """A job and its measured outcome (read-only: jobs are created by operating)."""

    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, default=None
    )
    author = serializers.CharField(read_only=True)
    restricted: ClassVar[dict[str, Action]] = {"requested_from": Action.VIEW_AUDIT}

    class Meta:
        model = Job
        fields = (
            "id",
            "instance",
            "kind",
            "params",
            "state",
            "requested_by",
            "author",
            "requested_from",
            "created_at",
            "started_at",
            "finished_at",
            "engine_seconds",
            "wall_seconds",
            "freed_gib",
            "backed_up_gib",
            "still_in_use_gib",
            "gpu_used_before_bytes",
            "gpu_used_after_bytes",
            "first_request_seconds",
            "error",
            "log_excerpt",
            "outcome_detail",
        )
        read_only_fields = fields


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    """One audit entry (admins only)."""

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "at",
            "user",
            "username",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "remote_addr",
            "outcome",
            "detail",
        )
        read_only_fields = fields


class MeSerializer(serializers.Serializer[Any]):
    """Who the caller is and what their role lets them do."""

    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    actions = serializers.ListField(child=serializers.CharField())
