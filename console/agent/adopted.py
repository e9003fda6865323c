"""Engines the console did not launch (registered by URL): find their processes on this host,
and tell the pages what evidence the agent can gather for each instance.

An adopted engine has no ``pid`` on its row (the console never started it). The agent looks
for the process listening on its URL's port when the URL names this machine: that process
and its children (vLLM's engine core and workers) hold its GPU memory. What the agent found
goes to Redis with a short expiry (an observation, not a truth: the page says "unknown"
once it is gone) for the instance page's evidence section (``console.web.evidence``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError

from console.models import Instance

log = logging.getLogger(__name__)

# The agent ticks every second; three missed ticks and the page stops trusting the report.
STATUS_SECONDS = 5
RESCAN_SECONDS = 5.0
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def status_key(instance_id: int) -> str:
    return f"{settings.REDIS_PREFIX}agent:evidence:{instance_id}"


@lru_cache(maxsize=4)
def _redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=2)


def local_addresses() -> set[str]:
    """This machine's own names and addresses: a URL naming one of them is served here."""
    names = {socket.gethostname(), socket.getfqdn(), *LOOPBACK_NAMES}
    for addresses in psutil.net_if_addrs().values():
        names.update(address.address.split("%")[0] for address in addresses)
    return {name.lower() for name in names}


def is_local(hostname: str, local: set[str]) -> bool:
    try:
        if ipaddress.ip_address(hostname).is_loopback:
            return True
    except ValueError:
        pass
    return hostname.lower() in local


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` here; None when none is, or it is another
    user's (Linux shows other users' sockets without their process unless run as root)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for conn in connections:
        if (
            conn.status == psutil.CONN_LISTEN
            and conn.laddr
            and conn.laddr.port == port
            and conn.pid
        ):
            return conn.pid
    return None


def still_listening(pid: int, port: int) -> bool:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def log_readable(path: str) -> tuple[bool, str]:
    """Whether this agent can follow ``path``, and why not."""
    file = Path(path)
    if not file.is_file():
        return False, f"the agent finds no file {path}"
    if not os.access(file, os.R_OK):
        return False, f"the agent may not read {path} (permissions)"
    return True, f"the agent follows {path}"


@dataclass
class AdoptedProcesses:
    """pid of each adopted engine found listening here, re-checked every tick (cheap) and
    looked up again (a scan of the host's sockets) only when it stopped listening."""

    local: set[str] = field(default_factory=local_addresses)
    found: dict[int, int] = field(default_factory=dict)
    # A scan reads every process's sockets (tens of ms on a busy host): one that found
    # nothing is not repeated for that instance before RESCAN_SECONDS.
    missed_at: dict[int, float] = field(default_factory=dict)

    def pid_of(self, instance: Instance) -> tuple[int | None, str]:
        """The engine process (the launched one or the one on its port), and how it was found."""
        if instance.pid:
            return instance.pid, f"launched by the console (process {instance.pid})"
        address = urlsplit(instance.base_url)
        if address.port is None or not is_local(address.hostname or "", self.local):
            self.found.pop(instance.pk, None)
            return None, (
                f"{address.hostname} is not this host's address: the agent sees only processes "
                "of its own machine"
            )
        pid = self.found.get(instance.pk)
        if pid is None or not still_listening(pid, address.port):
            pid = self.scan(instance.pk, address.port)
        if pid is None:
            self.found.pop(instance.pk, None)
            return None, (
                f"no process of this host visible to the agent listens on port {address.port} "
                "(another user's process, or a container whose processes it cannot see)"
            )
        self.found[instance.pk] = pid
        return pid, f"process {pid} listens on port {address.port}; it and its children count"

    def scan(self, instance_id: int, port: int) -> int | None:
        now = time.monotonic()
        if now - self.missed_at.get(instance_id, -RESCAN_SECONDS) < RESCAN_SECONDS:
            return None
        pid = listening_pid(port)
        if pid is None:
            self.missed_at[instance_id] = now
        else:
            self.missed_at.pop(instance_id, None)
        return pid

    def forget(self, present: set[int]) -> None:
        for instance_id in set(self.found) - present:
            del self.found[instance_id]
        for instance_id in set(self.missed_at) - present:
            del self.missed_at[instance_id]


def publish_status(reports: dict[int, dict[str, object]]) -> None:
    """What the agent can gather for each instance, for the instance page; expires quickly."""
    if not reports:
        return
    try:
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        for instance_id, report in reports.items():
            pipe.set(status_key(instance_id), json.dumps(report), ex=STATUS_SECONDS)
        pipe.execute()
    except RedisError as error:
        log.warning("agent: could not publish evidence status: %r", error)


def read_status(instance_id: int) -> dict[str, object] | None:
    """The agent's latest report on one instance, if it is fresh."""
    try:
        raw = _redis(settings.REDIS_URL).get(status_key(instance_id))
    except RedisError:
        return None
    if raw is None:
        return None
    report = json.loads(raw)
    return report if isinstance(report, dict) else None
