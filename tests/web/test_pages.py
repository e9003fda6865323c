"""The pages as the server renders them: content per role, bars, escaping, the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from console.models import (
    AuditEntry,
    EngineEvent,
    Host,
    Instance,
    InstanceState,
    MemorySample,
    Outcome,
    Subject,
)
from console.roles import Role
from tests.console.conftest import create_host, create_instance, create_job, create_user

GIB = 1 << 30
XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """These users sign in with force_login: no need for a slow hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


SignedIn = Callable[[Role], Client]


@pytest.fixture
def signed_in(db: None) -> SignedIn:
    """``signed_in(role)``: a client with a session of a new user of that role."""

    def sign_in(role: Role) -> Client:
        client = Client()
        client.force_login(create_user(role))
        return client

    return sign_in


@pytest.fixture
def host(db: None) -> Host:
    return create_host("gpu-a", gpus=1)


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def row_of(html: str, instance: Instance) -> str:
    return html.split(f'id="instance-{instance.pk}"')[1].split("</tr>")[0]


def sample_gpu(host: Host, used_gib: float, processes: dict[str, int]) -> None:
    MemorySample.objects.create(
        at=timezone.now(), subject=Subject.GPU, host=host, gpu=host.gpus.get(),
        used_bytes=int(used_gib * GIB), total_bytes=80 * GIB, extra={"processes": processes},
    )  # fmt: skip


def test_operator_gets_every_action_button(signed_in: SignedIn) -> None:
    instance = create_instance(state=InstanceState.AWAKE, host=create_host())
    row = row_of(page(signed_in(Role.OPERATOR), "/"), instance)
    for label in ("Sleep L1", "Sleep L2", "Wake", "Switch", "Launch", "Stop"):
        assert f">{label}</button>" in row


def test_viewer_gets_no_action_buttons(signed_in: SignedIn) -> None:
    create_instance(state=InstanceState.AWAKE)
    html = page(signed_in(Role.VIEWER), "/")
    assert "data-action=" not in html.split('id="instance-row-template"')[0]
    assert "data-action=" not in html


def test_only_the_buttons_the_state_allows_are_enabled(signed_in: SignedIn) -> None:
    instance = create_instance(state=InstanceState.SLEEPING, sleep_level=1, host=create_host())
    row = row_of(page(signed_in(Role.OPERATOR), "/"), instance)
    enabled = [part.split(">")[1].split("<")[0] for part in row.split("<button")[1:]
               if " disabled>" not in part.split("</button>")[0]]  # fmt: skip
    assert enabled == ["Wake", "Switch", "Stop"]


def test_an_engine_registered_by_url_is_offered_no_launch_or_stop_but_told_why(
    signed_in: SignedIn,
) -> None:
    instance = create_instance(state=InstanceState.AWAKE, host=None)
    row = row_of(page(signed_in(Role.OPERATOR), "/"), instance)
    assert 'data-action="launch"' not in row
    assert 'data-action="stop"' not in row
    assert 'data-action="switch"' in row
    note = row.split('data-field="adopted"')[1].split("</span>")[0]
    assert " hidden" not in note.split(">")[0]
    assert "Start or stop the engine where it runs" in note


def test_a_launched_engines_row_hides_the_registered_by_url_note(signed_in: SignedIn) -> None:
    instance = create_instance(state=InstanceState.AWAKE, host=create_host())
    row = row_of(page(signed_in(Role.OPERATOR), "/"), instance)
    assert 'data-field="adopted" hidden' in row


def test_badges_say_states_in_words_and_gpus_by_number(signed_in: SignedIn) -> None:
    host = create_host(gpus=2)
    falling = create_instance(state=InstanceState.FALLING_ASLEEP, host=host,
                              gpus=[host.gpus.get(index=0)])  # fmt: skip
    both = create_instance(state=InstanceState.SLEEPING, sleep_level=2, host=host,
                           gpus=list(host.gpus.all()))  # fmt: skip
    html = page(signed_in(Role.VIEWER), "/")
    assert ">falling asleep</span>" in row_of(html, falling)
    assert '<td class="mono" data-field="gpus">GPU 0</td>' in row_of(html, falling)
    assert ">sleeping · L2</span>" in row_of(html, both)
    assert '<td class="mono" data-field="gpus">GPUs 0, 1</td>' in row_of(html, both)
    assert '"falling_asleep": "falling asleep"' in html, "the same words for the page's JS"


def test_buttons_carry_the_states_the_job_service_accepts(signed_in: SignedIn) -> None:
    instance = create_instance(state=InstanceState.AWAKE, host=create_host())
    row = row_of(page(signed_in(Role.OPERATOR), "/"), instance)
    assert 'data-action="sleep" data-body="{&quot;level&quot;: 2}" data-when="awake"' in row
    assert 'data-action="launch" data-body="{}" data-when="error stopped unknown"' in row


def test_gpu_bar_splits_awake_weights_kv_cache_sleepers_and_other(
    signed_in: SignedIn, host: Host
) -> None:
    gpus = list(host.gpus.all())
    create_instance(name="awake-one", state=InstanceState.AWAKE, host=host, gpus=gpus,
                    expected_weights_gib=10)  # fmt: skip
    create_instance(name="asleep-one", state=InstanceState.SLEEPING, sleep_level=1, host=host,
                    gpus=gpus)  # fmt: skip
    sample_gpu(host, 40, {"awake-one": 30 * GIB, "asleep-one": 2 * GIB})
    html = page(signed_in(Role.VIEWER), "/")
    bar = html.split(f'data-bar="gpu-{gpus[0].pk}"')[1].split('data-field="summary"')[0]
    assert f'data-used-bytes="{40 * GIB}"' in bar
    kinds = [part.split('"')[0] for part in bar.split('data-kind="')[1:]]
    assert kinds == ["sleeping", "weights", "kv", "other"]
    assert 'style="width: 12.50%" title="awake-one weights: 10.0 GiB"' in bar
    assert 'title="other processes: 8.0 GiB"' in bar
    assert "40.0 / 80.0 GiB" in html


def test_host_bar_shows_a_level_one_sleepers_rss_as_its_weight_backup(
    signed_in: SignedIn, host: Host
) -> None:
    sleeper = create_instance(name="sleeper", state=InstanceState.SLEEPING, sleep_level=1,
                              host=host)  # fmt: skip
    at = timezone.now()
    MemorySample.objects.create(at=at, subject=Subject.HOST, host=host, used_bytes=100 * GIB,
                                total_bytes=512 * GIB)  # fmt: skip
    MemorySample.objects.create(at=at, subject=Subject.INSTANCE, host=host, instance=sleeper,
                                used_bytes=60 * GIB)  # fmt: skip
    html = page(signed_in(Role.VIEWER), "/")
    bar = html.split(f'data-bar="host-{host.pk}"')[1].split('data-field="summary"')[0]
    assert 'data-kind="backup"' in bar
    assert 'title="sleeper weight backup: 60.0 GiB"' in bar


def test_an_instance_in_error_says_why_under_its_badge(signed_in: SignedIn) -> None:
    why = "engine exited during startup (exit code 1): ValueError: Free memory on device"
    failed = create_instance(state=InstanceState.ERROR, state_detail=why)
    fine = create_instance(state=InstanceState.AWAKE, state_detail="adopted")
    html = page(signed_in(Role.VIEWER), "/")
    assert f'<small class="state-detail wrap" data-field="detail">{why}</small>' in row_of(
        html, failed
    )
    assert 'data-field="detail" hidden></small>' in row_of(html, fine)


def test_the_host_bar_fills_as_far_as_its_figure_says(signed_in: SignedIn, host: Host) -> None:
    # RSS counts shared pages once per process: two engines "use" more than the host does.
    at = timezone.now()
    MemorySample.objects.create(at=at, subject=Subject.HOST, host=host, used_bytes=100 * GIB,
                                total_bytes=400 * GIB)  # fmt: skip
    for name, rss in (("one", 70), ("two", 60)):
        engine = create_instance(name=name, state=InstanceState.AWAKE, host=host)
        MemorySample.objects.create(at=at, subject=Subject.INSTANCE, host=host,
                                    instance=engine, used_bytes=rss * GIB)  # fmt: skip
    html = page(signed_in(Role.VIEWER), "/")
    bar = html.split(f'data-bar="host-{host.pk}"')[1].split('data-field="summary"')[0]
    widths = [float(part.split("%")[0]) for part in bar.split('style="width: ')[1:]]
    assert sum(widths) == 25.0, "100 of 400 GiB"
    assert 'title="two RSS (cut to the used total): 30.0 GiB"' in bar
    assert "100.0 / 400.0 GiB" in html


def test_a_gpu_never_sampled_says_so(signed_in: SignedIn, host: Host) -> None:
    assert "no sample yet" in page(signed_in(Role.VIEWER), "/")


def test_dashboard_escapes_a_script_in_a_model_name(signed_in: SignedIn) -> None:
    instance = create_instance(served_model_name=XSS)
    row = row_of(page(signed_in(Role.VIEWER), "/"), instance)
    assert XSS not in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row


def test_instance_page_escapes_a_script_in_a_model_name(signed_in: SignedIn) -> None:
    instance = create_instance(served_model_name=XSS)
    html = page(signed_in(Role.VIEWER), f"/instances/{instance.pk}/")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_instance_page_lists_jobs_and_engine_events(signed_in: SignedIn) -> None:
    instance = create_instance()
    job = create_job(instance, engine_seconds=1.54, freed_gib=75.2)
    EngineEvent.objects.create(instance=instance, kind="wake", seconds=1.54, message="woke")
    html = page(signed_in(Role.VIEWER), f"/instances/{instance.pk}/")
    jobs = html.split(f'id="job-{job.pk}"')[1].split("</tr>")[0]
    assert "1.54 s" in jobs
    assert "75.2 GiB" in jobs
    assert ">woke</td>" in html


def test_instance_page_gives_its_script_the_sockets_path(signed_in: SignedIn) -> None:
    instance = create_instance()
    html = page(signed_in(Role.VIEWER), f"/instances/{instance.pk}/")
    assert f'"socket": "/ws/instances/{instance.pk}/"' in html
    assert 'src="/static/js/instance.js"' in html


def test_instance_page_of_an_unknown_instance_is_not_found(signed_in: SignedIn) -> None:
    assert signed_in(Role.VIEWER).get("/instances/999999/").status_code == 404


def test_viewer_gets_no_buttons_on_the_instance_page(signed_in: SignedIn) -> None:
    instance = create_instance(state=InstanceState.AWAKE)
    assert "data-action=" not in page(signed_in(Role.VIEWER), f"/instances/{instance.pk}/")


def test_history_offers_every_gpu_host_and_instance(signed_in: SignedIn, host: Host) -> None:
    instance = create_instance(name="llama")
    html = page(signed_in(Role.VIEWER), "/history/")
    gpu = host.gpus.get()
    assert f'value="gpu:{gpu.pk}" selected>GPU gpu-a:0' in html
    assert f'value="host:{host.pk}">Host gpu-a RAM' in html
    assert f'value="instance:{instance.pk}">Instance llama' in html


def test_history_links_the_chosen_subjects_csv_over_the_chosen_range(
    signed_in: SignedIn,
) -> None:
    instance = create_instance()
    html = page(signed_in(Role.VIEWER), f"/history/?subject=instance:{instance.pk}&range=7d")
    assert 'value="7d" selected' in html
    memory = html.split('href="/api/history/memory/?')[1].split('"')[0]
    assert f"subject=instance&amp;id={instance.pk}" in memory
    assert memory.endswith("&amp;format=csv")
    assert f'href="/api/history/timings/?instance={instance.pk}' in html
    assert f'href="/api/history/latency/?instance={instance.pk}' in html


def test_audit_page_is_refused_to_operators(signed_in: SignedIn) -> None:
    assert signed_in(Role.OPERATOR).get("/audit/").status_code == 403


def test_audit_page_lists_entries_newest_first(signed_in: SignedIn) -> None:
    for action in ("job.sleep", "job.wake"):
        AuditEntry.objects.create(username="otto", action=action, outcome=Outcome.OK,
                                  remote_addr="10.0.0.7")  # fmt: skip
    html = page(signed_in(Role.ADMIN), "/audit/")
    assert html.index("job.wake") < html.index("job.sleep")
    assert "10.0.0.7" in html


def test_audit_page_is_paged(signed_in: SignedIn) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(username="otto", action=f"job.n{i}", outcome=Outcome.OK) for i in range(51)
    )
    client = signed_in(Role.ADMIN)
    assert "page 1 of 2" in page(client, "/audit/")
    assert "job.n0<" in page(client, "/audit/?page=2")


def test_audit_page_escapes_what_users_typed(signed_in: SignedIn) -> None:
    AuditEntry.objects.create(username=XSS, action="user.login", outcome=Outcome.REFUSED)
    html = page(signed_in(Role.ADMIN), "/audit/")
    assert XSS not in html


@pytest.mark.parametrize("url", ["/history/", "/audit/", "/instances/1/"])
def test_anonymous_visitor_is_sent_to_login(client: Client, db: None, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_audit_link_is_shown_to_admins_only(signed_in: SignedIn) -> None:
    assert 'href="/audit/"' in page(signed_in(Role.ADMIN), "/")
    assert 'href="/audit/"' not in page(signed_in(Role.OPERATOR), "/")


def test_every_page_carries_the_csrf_token_for_scripts(signed_in: SignedIn) -> None:
    assert '<meta name="csrf-token" content="' in page(signed_in(Role.OPERATOR), "/history/")


def test_user_of_no_role_cannot_see_an_instance(db: None) -> None:
    client = Client()
    client.force_login(create_user(None))
    assert client.get(f"/instances/{create_instance().pk}/").status_code == 403


def test_operator_gets_the_job_options_listing_the_instances_on_its_gpus(
    signed_in: SignedIn, host: Host
) -> None:
    gpu = host.gpus.get()
    target = create_instance(name="target", host=host, gpus=[gpu])
    neighbour = create_instance(name="neighbour", host=host, gpus=[gpu])
    create_instance(name="elsewhere", host=create_host())
    html = page(signed_in(Role.OPERATOR), f"/instances/{target.pk}/")
    form = html.split('id="job-options-form"')[1].split("</form>")[0]
    sleep_list = form.split('name="sleep" multiple>')[1].split("</select>")[0]
    assert sleep_list.strip() == f'<option value="{neighbour.pk}">neighbour</option>'
    assert f'data-instance="{target.pk}"' in html
    assert 'id="job-options-answer" role="status"' in html


def test_viewer_does_not_get_the_job_options(signed_in: SignedIn) -> None:
    instance = create_instance(state=InstanceState.SLEEPING, sleep_level=1)
    html = page(signed_in(Role.VIEWER), f"/instances/{instance.pk}/")
    assert "Operate with options" not in html
    assert "job-options-form" not in html
