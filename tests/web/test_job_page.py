"""The job detail page: the job's facts, each step's figures, its evidence, its log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.models import EngineEvent, Job, JobKind, JobState
from console.roles import Role
from tests.console.conftest import create_instance, create_job, create_user

pytestmark = pytest.mark.django_db
GIB = 1 << 30


@pytest.fixture
def viewer_page() -> Client:
    client = Client()
    client.force_login(create_user(Role.VIEWER))
    return client


def switch_job() -> Job:
    """A switch by otto: alpha put to sleep at level 1, then beta woken, evidence in."""
    alpha, beta = create_instance(name="alpha"), create_instance(name="beta", log_path="/l")
    started = timezone.now() - timedelta(seconds=10)
    steps = [
        {"step": "sleep", "instance": "alpha", "instance_id": alpha.pk, "level": 1,
         "call_seconds": 0.41, "engine_seconds": 0.33, "freed_gib": 13.5,
         "backed_up_gib": 13.49, "still_in_use_gib": 1.84,
         "gpu_used_before_bytes": 80 * GIB, "gpu_used_after_bytes": 8 * GIB},
        {"step": "wake", "instance": "beta", "instance_id": beta.pk, "from_level": 2,
         "call_seconds": 2.3, "engine_seconds": 2.2, "reload_seconds": 2.1,
         "first_request_seconds": 0.05},
    ]  # fmt: skip
    job = create_job(beta, JobKind.SWITCH, state=JobState.SUCCEEDED, started_at=started,
                     finished_at=started + timedelta(seconds=3), wall_seconds=2.8,
                     requested_by=create_user(Role.OPERATOR, username="otto"),
                     outcome_detail={"steps": steps, "evidence": "complete"},
                     log_excerpt="It took 0.33 seconds to fall asleep.")  # fmt: skip
    reload = "Reloading weights took 2.1 seconds"
    EngineEvent.objects.create(instance=beta, kind="reload", at=started + timedelta(seconds=1),
                               seconds=2.1, message=reload)  # fmt: skip
    EngineEvent.objects.create(instance=beta, kind="wake", at=started - timedelta(hours=1),
                               message="an hour before: not this job's")  # fmt: skip
    return job


def test_the_page_shows_the_job_its_author_and_its_instances(viewer_page: Client) -> None:
    job = switch_job()
    html = viewer_page.get(f"/jobs/{job.pk}/").content.decode()
    assert f"Job {job.pk}: switch" in html
    for shown in ("otto", ">alpha</a>", ">beta</a>"):
        assert shown in html
    assert "2.800 s" in html


def test_each_step_carries_its_figures(viewer_page: Client) -> None:
    html = viewer_page.get(f"/jobs/{switch_job().pk}/").content.decode()
    steps = html[html.index('id="job-steps"') :]
    for figure in ("level 1", "0.330 s", "13.50 GiB", "1.84 GiB", "80.00 GiB", "8.00 GiB",
                   "from level 2", "2.100 s", "0.050 s"):  # fmt: skip
        assert figure in steps, figure


def test_the_evidence_state_and_the_log_excerpt_are_shown(viewer_page: Client) -> None:
    html = viewer_page.get(f"/jobs/{switch_job().pk}/").content.decode()
    assert "complete: the figures below" in html
    assert "It took 0.33 seconds to fall asleep." in html
    assert "Reloading weights took 2.1 seconds" in html
    assert "an hour before" not in html


def test_a_job_the_gateway_asked_for_names_the_inference_key(viewer_page: Client) -> None:
    job = create_job(create_instance(), JobKind.SWITCH,
                     params={"via": "gateway", "inference_key": "my-app"})  # fmt: skip
    html = viewer_page.get(f"/jobs/{job.pk}/").content.decode()
    assert "inference key my-app" in html


def test_a_pending_job_says_its_evidence_is_being_gathered(viewer_page: Client) -> None:
    job = create_job(create_instance(), JobKind.SLEEP, state=JobState.SUCCEEDED,
                     outcome_detail={"steps": [], "evidence": "pending"})  # fmt: skip
    assert "pending: the engine" in viewer_page.get(f"/jobs/{job.pk}/").content.decode()


def test_a_failed_job_shows_its_error(viewer_page: Client) -> None:
    job = create_job(create_instance(), JobKind.LAUNCH, state=JobState.FAILED,
                     error="<b>engine exited</b> with code 1")  # fmt: skip
    html = viewer_page.get(f"/jobs/{job.pk}/").content.decode()
    assert "&lt;b&gt;engine exited&lt;/b&gt; with code 1" in html


def test_the_page_gives_its_script_the_job_as_the_socket_sends_it(viewer_page: Client) -> None:
    job = switch_job()
    config = viewer_page.get(f"/jobs/{job.pk}/").context["page_config"]
    assert config["socket"] == f"/ws/instances/{job.instance_id}/"
    assert (config["job"]["id"], config["job"]["evidence"]) == (job.pk, "complete")


def test_an_unknown_job_is_not_found(viewer_page: Client) -> None:
    assert viewer_page.get("/jobs/999999/").status_code == 404


def test_the_instance_page_links_each_job(viewer_page: Client) -> None:
    job = switch_job()
    html = viewer_page.get(f"/instances/{job.instance_id}/").content.decode()
    assert f'href="/jobs/{job.pk}/"' in html
