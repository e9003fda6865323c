"""The launcher's process handling, with small real Python scripts standing in for vLLM."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from engines.launcher import (
    EngineDiedError,
    EngineStartTimeout,
    LaunchedEngine,
    Launcher,
    LaunchSpec,
)
from tests.support.emulator import free_port

SLEEPER = "import time; print('up', flush=True); time.sleep(60)"
IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)"
)
SPAWNS_CHILD = (
    "import subprocess, sys, time; "
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print('up', c.pid, flush=True); time.sleep(60)"
)
DIES_AT_START = (
    "import sys\nfor i in range(60): print(f'loading step {i}')\n"
    "print('ValueError: Sleep mode is not supported on current platform.')\nsys.exit(3)"
)


def script_spec(code: str, *, name: str = "engine", port: int | None = None) -> LaunchSpec:
    """A spec whose "engine" is ``python -c code serve m --host ... --port ...``."""
    return LaunchSpec(
        executable=(sys.executable, "-c", code), model="m", port=port or free_port(), name=name
    )


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path / "run", poll_interval=0.05)
    yield launcher
    for engine in launcher.find_running():
        launcher.stop(engine, grace=1)


def wait_for_output(engine: LaunchedEngine, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.log_path.exists() and text in (log := engine.log_path.read_text()):
            return log
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in {engine.log_path}")


def test_start_records_a_pid_file_with_the_start_time(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    record = json.loads((launcher.instance_dir("engine") / "engine.pid.json").read_text())
    assert record["pid"] == engine.pid
    assert record["create_time"] == psutil.Process(engine.pid).create_time()
    assert record["port"] == engine.port


def test_start_detaches_the_engine_into_its_own_session(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    assert os.getsid(engine.pid) == engine.pid != os.getsid(0)


def test_engine_output_goes_to_its_log_file(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    assert engine.log_path == launcher.instance_dir("engine") / "engine.log"
    wait_for_output(engine, "up")


def test_start_refuses_a_name_that_is_already_running(launcher: Launcher) -> None:
    launcher.start(script_spec(SLEEPER))
    with pytest.raises(RuntimeError, match="already running"):
        launcher.start(script_spec(SLEEPER))


def test_start_refuses_dev_mode_true_before_starting_anything(launcher: Launcher) -> None:
    spec = LaunchSpec(
        executable=(sys.executable, "-c", SLEEPER), model="m", port=1, name="e", dev_mode="true"
    )
    with pytest.raises(ValueError, match="VLLM_SERVER_DEV_MODE"):
        launcher.start(spec)
    assert not launcher.instance_dir("e").exists()


def test_start_rotates_the_previous_logs_keeping_three(launcher: Launcher) -> None:
    for run in range(5):
        engine = launcher.start(script_spec(f"print('run {run}')"))
        with pytest.raises(EngineDiedError):
            launcher.wait_ready(engine, timeout=10)
    log = launcher.instance_dir("engine") / "engine.log"
    kept = [log, *(log.with_name(f"engine.log.{n}") for n in (1, 2, 3))]
    assert [path.read_text().strip() for path in kept] == ["run 4", "run 3", "run 2", "run 1"]
    assert not log.with_name("engine.log.4").exists()


def test_process_that_dies_at_start_reports_exit_code_and_last_lines(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(DIES_AT_START))
    with pytest.raises(EngineDiedError) as error:
        launcher.wait_ready(engine, timeout=10)
    assert error.value.exit_code == 3
    assert len(error.value.last_lines) == 40
    assert error.value.last_lines[-1].endswith("not supported on current platform.")
    assert "exit code 3" in str(error.value)


def test_engine_that_never_serves_times_out_with_last_lines(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    wait_for_output(engine, "up")
    with pytest.raises(EngineStartTimeout) as error:
        launcher.wait_ready(engine, timeout=0.3)
    assert error.value.last_lines == ["up"]


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request log line."""


def test_another_server_on_the_port_does_not_make_the_engine_ready(launcher: Launcher) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        engine = launcher.start(script_spec(SLEEPER, port=server.server_address[1]))
        with pytest.raises(EngineStartTimeout):
            launcher.wait_ready(engine, timeout=0.5)
    finally:
        server.shutdown()
        server.server_close()


def test_stop_terminates_with_sigterm(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    assert launcher.stop(engine, grace=5) == -signal.SIGTERM
    assert not psutil.pid_exists(engine.pid)
    assert launcher.find_running() == []


def test_stop_escalates_to_sigkill_after_grace(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(IGNORES_SIGTERM))
    wait_for_output(engine, "up")
    began = time.monotonic()
    assert launcher.stop(engine, grace=0.3) == -signal.SIGKILL
    assert time.monotonic() - began < 5


def test_stop_terminates_the_whole_process_group(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SPAWNS_CHILD))
    worker = int(wait_for_output(engine, "up").split()[1])
    launcher.stop(engine, grace=5)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(worker) and psutil.Process(worker).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the engine's child survived stop()"
        time.sleep(0.02)


def test_stop_of_a_stopped_engine_returns_none(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    launcher.stop(engine, grace=5)
    assert launcher.stop(engine) is None
    assert launcher.stop(engine.pid) is None


def test_stop_by_pid_stops_the_recorded_engine(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    assert launcher.stop(engine.pid, grace=5) == -signal.SIGTERM
    assert not (launcher.instance_dir("engine") / "engine.pid.json").exists()


def test_restarted_launcher_finds_and_stops_running_engines(tmp_path: Path) -> None:
    first = Launcher(tmp_path / "run")
    engine = first.start(script_spec(SLEEPER, name="a"))
    second = Launcher(tmp_path / "run")
    assert second.find_running() == [engine]
    assert second.stop(engine, grace=5) is None  # not its child: no exit code
    assert second.find_running() == []
    first.stop(engine)  # reaps the zombie the first launcher still owns


def test_find_running_drops_the_pid_files_of_dead_engines(launcher: Launcher) -> None:
    engine = launcher.start(script_spec("print('bye')"))
    with pytest.raises(EngineDiedError):
        launcher.wait_ready(engine, timeout=10)
    assert launcher.find_running() == []
    assert not (launcher.instance_dir("engine") / "engine.pid.json").exists()


def test_pid_reused_by_another_process_is_not_taken_for_the_engine(launcher: Launcher) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    pid_file = launcher.instance_dir("engine") / "engine.pid.json"
    record = json.loads(pid_file.read_text())
    # As if the engine had died long ago and its pid now belonged to this process.
    record["create_time"] -= 3600
    pid_file.write_text(json.dumps(record))
    assert launcher.find_running() == []
    assert not pid_file.exists()
    assert engine.create_time is not None
    assert launcher.stop(dataclasses.replace(engine, create_time=engine.create_time - 3600)) is None
    assert psutil.Process(engine.pid).status() != psutil.STATUS_ZOMBIE
    launcher.stop(engine, grace=5)


def test_find_running_drops_an_unreadable_pid_file(launcher: Launcher) -> None:
    directory = launcher.instance_dir("broken")
    directory.mkdir(parents=True)
    (directory / "engine.pid.json").write_text("{not json")
    assert launcher.find_running() == []
    assert not (directory / "engine.pid.json").exists()


def test_pid_file_does_not_record_the_api_key(launcher: Launcher) -> None:
    spec = script_spec(SLEEPER)
    spec = LaunchSpec(
        executable=spec.executable,
        model="m",
        port=spec.port,
        name="keyed",
        extra_args=("--api-key", "s3cret"),
    )
    launcher.start(spec)
    assert "s3cret" not in (launcher.instance_dir("keyed") / "engine.pid.json").read_text()


def test_engine_rebuilt_from_the_contract_fields_is_stopped_via_its_pid_file(
    launcher: Launcher,
) -> None:
    engine = launcher.start(script_spec(SLEEPER))
    rebuilt = LaunchedEngine(
        engine.name, engine.pid, engine.port, engine.log_path, engine.started_at
    )
    assert launcher.stop(rebuilt, grace=5) == -signal.SIGTERM
