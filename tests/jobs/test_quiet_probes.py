"""Reconcile asks a silent stopped engine less often the longer it has been silent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from console.jobs.quiet_probes import GRACE_SECONDS, MAX_INTERVAL_SECONDS, interval
from console.jobs.reconcile import reconcile_all, reconcile_one
from console.models import Instance, InstanceState

pytestmark = pytest.mark.django_db

PERIOD = 5.0


class Refuser:
    """A port that accepts connections and hangs up at once: an engine that is not there,
    answered quickly, with every attempt counted."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.attempts = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.attempts += 1
            connection.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def nobody() -> Iterator[Refuser]:
    refuser = Refuser()
    yield refuser
    refuser.close()


def stopped(url: str, quiet: timedelta) -> Instance:
    return Instance.objects.create(
        name="silent", served_model_name="m", base_url=url, state=InstanceState.STOPPED,
        state_changed_at=timezone.now() - quiet,
    )  # fmt: skip


def rounds_that_probed(refuser: Refuser, rounds: int) -> int:
    probed = 0
    for _ in range(rounds):
        before = refuser.attempts
        assert reconcile_all() == []
        probed += refuser.attempts > before
    return probed


def test_an_engine_silent_for_less_than_the_grace_is_asked_every_round(nobody: Refuser) -> None:
    stopped(nobody.url, timedelta(seconds=10))
    assert rounds_that_probed(nobody, 3) == 3


def test_an_engine_silent_for_long_is_asked_once_then_left_to_wait(nobody: Refuser) -> None:
    stopped(nobody.url, timedelta(hours=1))
    assert rounds_that_probed(nobody, 3) == 1


def test_a_probe_asked_for_on_purpose_ignores_the_wait(nobody: Refuser) -> None:
    instance = stopped(nobody.url, timedelta(hours=1))
    assert rounds_that_probed(nobody, 1) == 1
    before = nobody.attempts
    reconcile_one(instance.pk)
    assert nobody.attempts > before


def test_a_new_stop_starts_afresh(nobody: Refuser) -> None:
    instance = stopped(nobody.url, timedelta(hours=1))
    assert rounds_that_probed(nobody, 1) == 1
    Instance.objects.filter(pk=instance.pk).update(state_changed_at=timezone.now())
    assert rounds_that_probed(nobody, 2) == 2


def test_the_interval_grows_with_the_silence_up_to_its_cap() -> None:
    assert interval(GRACE_SECONDS - 1, PERIOD) == PERIOD
    assert interval(600, PERIOD) == 60
    assert interval(GRACE_SECONDS, 30.0) == 30.0, "never more often than the round"
    assert interval(86_400, PERIOD) == MAX_INTERVAL_SECONDS
