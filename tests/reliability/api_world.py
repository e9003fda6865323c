"""A small console world for the API sweeps: one of each row, secrets planted, the schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from console.models import InferenceKey, Instance, JobKind
from console.roles import Role
from tests.console.conftest import create_host, create_instance, create_job, create_user

API_KEY = "sk-engine-secret-4f1c"
ENV_VALUE = "hf-launch-secret-9b2e"
MUTATING = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    """One documented API operation, its path's ids filled in with rows that exist."""

    method: str
    template: str
    url: str

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING


@dataclass(frozen=True)
class World:
    """The rows every operation can point at, and a user per role."""

    instance: Instance
    users: dict[Role, User]

    def client(self, role: Role | None, *, csrf: bool = False) -> APIClient:
        """Signed in through the session (``csrf``: as a browser would be checked)."""
        client = APIClient(enforce_csrf_checks=csrf)
        if role is not None:
            client.force_login(self.users[role])
        return client

    def schema(self) -> dict[str, Any]:
        response = self.client(Role.ADMIN).get("/api/schema/", {"format": "json"})
        assert response.status_code == 200
        schema: dict[str, Any] = response.json()
        return schema

    def operations(self) -> list[Operation]:
        ids = {
            "instances": self.instance.pk,
            "jobs": self.instance.jobs.get().pk,
            "hosts": self.instance.host_id,
            "inference-keys": InferenceKey.objects.get().pk,
        }
        found = []
        for template, methods in self.schema()["paths"].items():
            url = template.replace("{id}", str(ids.get(template.split("/")[2], 0)))
            found += [Operation(m, template, url) for m in methods if m in ("get", *MUTATING)]
        return found


def build_world() -> World:
    host = create_host("gpu-sweep")
    instance = create_instance(
        host=host, api_key=API_KEY, launch_env={"HF_TOKEN": ENV_VALUE}, gpus=list(host.gpus.all())
    )
    create_job(instance, JobKind.SLEEP, state="failed", error="engine not answering")
    InferenceKey.issue("sweep", [instance.served_model_name])
    users = {role: create_user(role, username=f"sweep-{role.name.lower()}") for role in Role}
    return World(instance, users)
