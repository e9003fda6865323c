"""``POST /api/instances/<id>/switch/``: the instances it may put to sleep are checked
(any list used to be stored with the job and shown to every viewer)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from console.api.actions import MAX_SWITCH_SLEEP
from console.models import Gpu, Instance, InstanceState, Job
from tests.console.conftest import ClientFactory, create_host, create_instance

pytestmark = pytest.mark.django_db


@pytest.fixture
def gpu() -> Gpu:
    return create_host().gpus.get()


@pytest.fixture
def target(gpu: Gpu) -> Instance:
    return create_instance(host=gpu.host, gpus=[gpu], state=InstanceState.SLEEPING, sleep_level=1)


@pytest.fixture
def neighbour(gpu: Gpu) -> Instance:
    return create_instance(host=gpu.host, gpus=[gpu], state=InstanceState.AWAKE)


@pytest.fixture
def client(operator: User, token_client: ClientFactory) -> APIClient:
    return token_client(operator)


def switch(client: APIClient, target: Instance, body: dict[str, Any]) -> Any:
    return client.post(f"/api/instances/{target.pk}/switch/", body, format="json")


def test_switch_stores_a_neighbour_to_put_to_sleep(
    client: APIClient, target: Instance, neighbour: Instance
) -> None:
    response = switch(client, target, {"sleep": [neighbour.pk], "level": 2})
    assert response.status_code == 202, response.json()
    assert Job.objects.get().params == {"sleep": [neighbour.pk], "level": 2}


def test_switch_refuses_an_instance_that_does_not_exist(
    client: APIClient, target: Instance
) -> None:
    response = switch(client, target, {"sleep": [999]})
    assert response.status_code == 400
    assert "999" in response.json()["sleep"][0]
    assert not Job.objects.exists()


def test_switch_refuses_the_target_itself(client: APIClient, target: Instance) -> None:
    response = switch(client, target, {"sleep": [target.pk]})
    assert response.status_code == 400
    assert "itself" in response.json()["sleep"][0]
    assert not Job.objects.exists()


def test_switch_refuses_an_instance_on_other_gpus(client: APIClient, target: Instance) -> None:
    elsewhere = create_host().gpus.get()
    stranger = create_instance(host=elsewhere.host, gpus=[elsewhere], state=InstanceState.AWAKE)
    response = switch(client, target, {"sleep": [stranger.pk]})
    assert response.status_code == 400
    assert "share no GPU" in response.json()["sleep"][0]


def test_switch_refuses_ten_thousand_ids(client: APIClient, target: Instance) -> None:
    response = switch(client, target, {"sleep": list(range(1, 10_001))})
    assert response.status_code == 400
    assert f"at most {MAX_SWITCH_SLEEP}" in str(response.json()["sleep"])
    assert not Job.objects.exists()


def test_switch_refuses_an_id_beyond_64_bits(client: APIClient, target: Instance) -> None:
    response = switch(client, target, {"sleep": [2**64]})
    assert response.status_code == 400
    assert "sleep" in response.json()


@pytest.mark.parametrize("level", [0, 3, "deep", 1.5, True])
def test_switch_refuses_a_level_other_than_1_or_2(
    client: APIClient, target: Instance, level: object
) -> None:
    assert switch(client, target, {"level": level}).status_code == 400
    assert not Job.objects.exists()


def test_switch_names_a_neighbour_listed_twice_once(
    client: APIClient, target: Instance, neighbour: Instance
) -> None:
    assert switch(client, target, {"sleep": [neighbour.pk, neighbour.pk]}).status_code == 202
    assert Job.objects.get().params == {"sleep": [neighbour.pk]}
