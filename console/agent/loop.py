"""One agent tick: heartbeat, memory samples, engine log events, dead engines.

Runs every second in a thread beside the agent's Celery worker (which takes the host's
launch and stop jobs). Everything it learns goes to the database, the only truth.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from console.agent.adopted import AdoptedProcesses, log_readable, publish_status
from console.history.scrape import EngineScraper
from console.jobs.process import launcher as host_launcher
from console.models import (
    EngineEvent,
    Gpu,
    Host,
    Instance,
    InstanceState,
    MemorySample,
    Subject,
    transition,
)
from console.models.notifications import AlertKind
from console.notifications import watch
from console.notifications.alerts import alert
from console.realtime import notify
from console.realtime.messages import Event
from console.realtime.publisher import publish
from engines.launcher import Launcher
from engines.launcher.logfiles import last_lines, redact_secrets
from engines.launcher.process import send_signal
from engines.logparser import EngineLogEvent, LogTail, TailLines
from engines.probes import GpuProbe, GpuReading, process_tree_rss, read_host

log = logging.getLogger(__name__)

State = InstanceState
# States in which the engine's process should be alive.
RUNNING_STATES = [State.AWAKE, State.SLEEPING, State.FALLING_ASLEEP, State.WAKING, State.UNKNOWN]
# Engines whose /metrics are scraped for the live view (not while a job moves them: a
# scrape must not queue beside a sleep or a wake).
SCRAPED_STATES = {State.AWAKE, State.SLEEPING}
# The live tail: a burst (a request log at high load) is cut to its last lines per tick,
# and each line to a length a page can show; the file keeps everything.
LIVE_TAIL_LINES = 200
LIVE_LINE_CHARS = 4000


def _scraper() -> EngineScraper:
    return EngineScraper(settings.CONSOLE_ENGINE_SCRAPE_SECONDS)


def register(name: str, probe: GpuProbe, version: str) -> Host:
    """Create or refresh the Host row and one Gpu row per device the probe sees."""
    host, _ = Host.objects.update_or_create(
        name=name, defaults={"last_heartbeat": timezone.now(), "agent_version": version}
    )
    for reading in probe.read():
        Gpu.objects.update_or_create(
            host=host,
            index=reading.index,
            defaults={
                "uuid": reading.uuid,
                "name": reading.name,
                "total_bytes": reading.total_bytes,
            },
        )
    return host


@dataclass
class AgentLoop:
    """The periodic work of one host's agent."""

    host: Host
    probe: GpuProbe
    interval: float = 1.0
    tails: dict[int, LogTail] = field(default_factory=dict)
    stopped: threading.Event = field(default_factory=threading.Event)
    asked: threading.Event = field(default_factory=threading.Event)
    # Logs found at start were read by the agent that ran before: skip what they hold.
    primed: bool = False
    # Engine /metrics, added to each engine's memory sample for the live view.
    scraper: EngineScraper = field(default_factory=_scraper)
    live: list[Event] = field(default_factory=list)
    # The host worker's launcher (same process): its engines are this process's children.
    launcher: Launcher = field(default_factory=host_launcher)
    # Engines registered by URL (adopted): the console did not launch them, so their
    # process is found by the port they listen on.
    adopted: AdoptedProcesses = field(default_factory=AdoptedProcesses)

    def run_forever(self) -> None:
        while not self.stopped.is_set():
            # A tick every interval, or at once when a job's engine calls are done
            # (``console.jobs.sampling``): its "after" sample must precede the next move.
            self.asked.wait(self.interval)
            self.asked.clear()
            if self.stopped.is_set():
                return
            try:
                self.tick()
            except Exception:
                # A database hiccup (SQLite busy, PostgreSQL restart) must not kill sampling.
                log.exception("agent tick failed; retrying")
            finally:
                close_old_connections()

    def tick(self) -> None:
        now = timezone.now()
        Host.objects.filter(pk=self.host.pk).update(last_heartbeat=now)
        # An engine killed from outside stays a zombie until reaped, and looks alive.
        self.launcher.reap()
        instances = list(Instance.objects.filter(host=self.host).prefetch_related("gpus"))
        pids = self.engine_pids(instances)
        # Stamped as the GPUs are read, not when the tick began: a job's evidence takes a
        # sample as "before" or "after" one of its calls by this time, and the tick's work
        # before the read can take hundreds of milliseconds on a busy host.
        self.sample(timezone.now(), self.probe.read(), instances, pids)
        for instance in instances:
            self.follow_log(instance)
            self.check_alive(instance)
        self.forget_tails({instance.pk for instance in instances})
        self.adopted.forget({instance.pk for instance in instances})
        self.primed = True
        # The tick's live events in one publication (one Redis round trip).
        live, self.live = self.live, []
        publish(*live)

    def engine_pids(self, instances: list[Instance]) -> dict[int, int]:
        """Each running engine's process (launched here, or found on its port if adopted),
        and, for the instance page, what evidence the agent can gather and why."""
        pids: dict[int, int] = {}
        reports: dict[int, dict[str, object]] = {}
        for instance in instances:
            if instance.pid or instance.state not in (State.STOPPED, State.STOPPING):
                pid, why = self.adopted.pid_of(instance)
            else:
                pid, why = None, f"the engine is {instance.state}"
            if pid:
                pids[instance.pk] = pid
            log_ok, log_why = (
                log_readable(instance.log_path) if instance.log_path else (False, "no log path")
            )
            reports[instance.pk] = {"gpu": [bool(pid), why], "log": [log_ok, log_why]}
        publish_status(reports)
        return pids

    def sample(
        self,
        now: datetime,
        readings: list[GpuReading],
        instances: list[Instance],
        pids: dict[int, int],
    ) -> None:
        gpus = {gpu.index: gpu for gpu in Gpu.objects.filter(host=self.host)}
        names = owners(instances, pids)
        rows = [
            MemorySample(
                at=now, subject=Subject.GPU, host=self.host, gpu=gpus[r.index],
                used_bytes=r.used_bytes, total_bytes=r.total_bytes,
                extra={"utilization_pct": r.utilization_pct, "processes": _by_instance(r, names)},
            )
            for r in readings if r.index in gpus
        ]  # fmt: skip
        ram = read_host()
        rows.append(
            MemorySample(
                at=now, subject=Subject.HOST, host=self.host,
                used_bytes=ram.total_bytes - ram.available_bytes, total_bytes=ram.total_bytes,
                extra={"swap_used_bytes": ram.swap_used_bytes},
            )
        )  # fmt: skip
        for instance in instances:
            pid = pids.get(instance.pk)
            if pid and alive(pid):
                rss = process_tree_rss(pid, self.probe)
                scraped = self.scraper.figures(instance) if instance.state in SCRAPED_STATES else {}
                rows.append(
                    MemorySample(
                        at=now, subject=Subject.INSTANCE, host=self.host,
                        instance=instance, used_bytes=rss, total_bytes=ram.total_bytes,
                        extra=scraped,
                    )
                )  # fmt: skip
        MemorySample.objects.bulk_create(rows)
        self.live += notify.sample_events(self.host, rows)
        watch.full_memory(rows)

    def forget_tails(self, present: set[int]) -> None:
        """Close the logs of instances deleted or moved to another host."""
        for instance_id in set(self.tails) - present:
            self.tails.pop(instance_id).close()

    def follow_log(self, instance: Instance) -> None:
        """Engine events to the database, and new lines to the live tail."""
        if not instance.log_path:
            return
        tail = self.tails.get(instance.pk)
        if tail is None or tail.path != Path(instance.log_path):
            if tail is not None:
                tail.close()
            tail = LogTail(Path(instance.log_path), keep_lines=LIVE_TAIL_LINES)
            self.tails[instance.pk] = tail
            # An adopted engine's log holds what happened before the console
            # watched it; a launched engine's log starts with this launch.
            if not self.primed or not instance.pid:
                tail.poll()
                tail.take_lines()
        events = tail.poll()
        if events:
            rows = EngineEvent.objects.bulk_create([_event_row(instance, e) for e in events])
            self.live += notify.engine_event_messages(rows)
        self.live += notify.log_line_events(instance.pk, live_tail(tail.take_lines()))

    def check_alive(self, instance: Instance) -> None:
        """An engine the console launched whose process is gone: error, with its last lines."""
        if not instance.pid or instance.state not in RUNNING_STATES:
            return
        if alive(instance.pid):
            return
        lines = last_lines(Path(instance.log_path), 40) if instance.log_path else []
        detail = f"engine process {instance.pid} exited"
        # The state and the event that explains it in one transaction: whoever sees the
        # error finds its engine_died event.
        with transaction.atomic():
            if not transition(
                instance.pk, {InstanceState(instance.state)}, State.ERROR, state_detail=detail,
                pid=None,
            ):  # fmt: skip
                return
            EngineEvent.objects.create(
                instance=instance, kind="engine_died", message="\n".join([detail, *lines])
            )
            alert(
                AlertKind.ENGINE_DIED, f"{instance.name} on {self.host.name}: {detail}",
                instance=instance.name, host=self.host.name, pid=instance.pid,
                last_lines="\n".join(redact_secrets(line) for line in lines[-10:]),
            )  # fmt: skip
        stop_leftovers(instance.pid)


def stop_leftovers(group: int) -> None:
    """Kill what an engine that died left running: its workers stay in the process group
    the launcher started it as (vLLM 0.25 on an H200: the API server SIGKILLed, its
    EngineCore child kept running with 1.77 GiB of GPU memory, 77 GiB had it been awake)."""
    if group != os.getpgrp():
        send_signal(group, group, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running, not a zombie (an engine that died stays one until its parent reaps it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def owners(instances: list[Instance], pids: dict[int, int]) -> dict[int, str]:
    """pid -> instance name for every process of the engines running here (``pids``: each
    instance's launched or adopted process).

    vLLM's GPU memory is held by its engine-core and worker processes, children of the
    ``vllm serve`` process (launched here, or listening on an adopted engine's port), so
    the whole tree counts.
    """
    names: dict[int, str] = {}
    for instance in instances:
        pid = pids.get(instance.pk)
        if not pid:
            continue
        names[pid] = instance.name
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            continue
        names.update((child.pid, instance.name) for child in children)
    return names


def live_tail(taken: TailLines) -> list[str]:
    """The lines one tick shows on the live tail, after a marker for those it leaves out."""
    lines = [line[:LIVE_LINE_CHARS] for line in taken.lines]
    if taken.skipped:
        return [f"[... {taken.skipped} lines not shown]", *lines]
    return lines


def _by_instance(reading: GpuReading, names: dict[int, str]) -> dict[str, int]:
    """Per-process GPU memory attributed to the instances running here."""
    attributed: dict[str, int] = {}
    for process in reading.processes:
        owner = names.get(process.pid, "other")
        attributed[owner] = attributed.get(owner, 0) + (process.used_bytes or 0)
    return attributed


def _event_row(instance: Instance, event: EngineLogEvent) -> EngineEvent:
    """The row of a parsed line: its figures in their columns, everything it said in
    ``data``. The job it belongs to is linked by the job's evidence, which knows (the
    agent sees a line up to a tick after the job ended, and a switch's victim is another
    instance than its job's)."""
    return EngineEvent(
        instance=instance,
        kind=str(event.event),
        at=timezone.now(),
        seconds=event.seconds,
        freed_gib=event.freed_gib,
        backed_up_gib=event.backed_up_gib,
        still_in_use_gib=event.still_in_use_gib,
        gib=event.gib,
        data=event.to_json_dict(),
        message=redact_secrets(event.line)[:2000],
    )
