"""The real vLLM 0.25.0 fixtures (tests/engines/fixtures/real-vllm-0.25.0/) and their replay.

``raw-transcript.json`` holds what a real ``vllm serve`` (0.25.0, H200, Llama-8B shape,
``--load-format dummy``) answered and logged to one sequence of HTTP calls, made by
``bench/real_vllm/raw.py`` on one pooled connection. ``replay`` sends the same calls, from
the fixture, to an emulator and records the same parts, so tests compare them side by side.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from engines.logparser import parse_line
from tests.support.emulator import EmulatorProcess, run_emulator

FIXTURES = Path(__file__).parent / "fixtures" / "real-vllm-0.25.0"
Step = dict[str, Any]

# The real run's flags (the fixture's "command"), modelled waits twenty times shorter.
EMULATOR_ARGS = (
    "--enable-sleep-mode", "--load-format", "dummy", "--gpu-memory-utilization", "0.55",
    "--max-model-len", "4096", "--served-model-name", "real/raw", "--weights-gib", "13.49",
    "--gpu-total-gib", "140.4", "--startup-seconds", "0", "--time-scale", "0.05",
)  # fmt: skip
HELD_STEP = "wake_with_held"


def load(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return found


def real_steps() -> dict[str, Step]:
    return {step["step"]: step for step in load("raw-transcript.json")["steps"]}


def sleep_state(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vllm:engine_sleep_state":
                found[sample.labels["sleep_state"]] = sample.value
    return found


def answer_parts(path: str, response: httpx.Response) -> Step:
    """The parts bench/real_vllm/raw.py recorded from the real answer."""
    text = response.text
    parts: Step = {"status": response.status_code, "body_length": len(text)}
    if path == "/metrics":
        parts["sleep_state"] = sleep_state(text)
        return parts
    try:
        body: Any = response.json() if text else None
    except json.JSONDecodeError:
        parts["text"] = text[:300]
        return parts
    if path == "/v1/completions":
        choice = body["choices"][0]
        parts["json"] = {"object": body["object"], "finish_reason": choice["finish_reason"]}
    elif path == "/v1/models":
        card = body["data"][0]
        parts["json"] = {k: card.get(k) for k in ("id", "object", "owned_by", "max_model_len")}
    else:
        parts["json"] = body
    return parts


class Replayer:
    """Sends the fixture's calls to one emulator; keeps its answers and log lines per step."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.client = httpx.Client(base_url=emulator.url, limits=limits, timeout=60)
        self.offset = 0

    def new_lines(self) -> list[str]:
        data = self.emulator.log_path.read_bytes()
        text, self.offset = data[self.offset :].decode(errors="replace"), len(data)
        return [line for line in text.splitlines() if line.strip()]

    def send(self, step: Step) -> Step:
        fresh = step.get("fresh_connection", False)
        client = httpx.Client(base_url=self.emulator.url, timeout=60) if fresh else self.client
        try:
            response = client.request(
                step["method"], step["path"], params=step["query"] or None, json=step["body"]
            )
            return answer_parts(step["path"], response)
        except httpx.HTTPError as error:
            return {"status": None, "error": f"{type(error).__name__}: {error}"}
        finally:
            if fresh:
                client.close()

    def held_then_wake(self, step: Step) -> Step:
        held: list[Step] = []
        body = {"model": "real/raw", "prompt": "w5 w6 w7", "max_tokens": 4}
        threads = [
            threading.Thread(target=self._completion, args=({**body, "stream": s}, held))
            for s in (False, True)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # an awake engine answers these in milliseconds
        pending = sum(thread.is_alive() for thread in threads)
        answer = self.send(step)
        for thread in threads:
            thread.join(timeout=30)
        return {**answer, "held": held, "held_pending": pending}

    def _completion(self, body: Step, out: list[Step]) -> None:
        with httpx.Client(base_url=self.emulator.url, timeout=30) as client:
            response = client.post("/v1/completions", json=body)
        out.append(
            {"stream": body["stream"], "status": response.status_code,
             "sse_done": "data: [DONE]" in response.text}
        )  # fmt: skip

    def run(self, steps: list[Step]) -> dict[str, Step]:
        self.new_lines()
        replayed: dict[str, Step] = {}
        for step in steps:
            answer = self.held_then_wake(step) if step["step"] == HELD_STEP else self.send(step)
            time.sleep(0.05)
            answer["log_lines"] = self.new_lines()
            replayed[step["step"]] = answer
        self.client.close()
        return replayed


@contextmanager
def replayed_emulator(tmp_path: Path) -> Iterator[dict[str, Step]]:
    steps = load("raw-transcript.json")["steps"]
    with run_emulator(tmp_path, *EMULATOR_ARGS, model="emu/raw", version="0.25.0") as emulator:
        yield Replayer(emulator).run(steps)


# --- log lines -------------------------------------------------------------------------------

_RECORD = re.compile(
    r"^\((?P<process>[^()]+?) pid=\d+\) (?P<level>[A-Z]+) \d\d-\d\d \d\d:\d\d:\d\d "
    r"\[(?P<site>[^\]]+)\] (?P<message>.*)$"
)
_SET = re.compile(r"\{([^{}]*)\}")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CLIENT = re.compile(r'INFO:\s+[\d.]+:(\d+) - "')


def template(line: str) -> str | None:
    """A vLLM record with its pid, time and figures masked (and a set's items sorted)."""
    match = _RECORD.match(line)
    if match is None:
        return None
    message = _SET.sub(lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}", match["message"])
    return f"({match['process']}) {match['level']} [{match['site']}] {_NUMBER.sub('N', message)}"


# Records of the sleep machinery the console reads or shows, besides the parser's events:
# the executor's warnings, the API's wake line, prefix-cache resets, the backend, and the
# first line of each logged error (not the traceback under it, which names source files).
_SLEEP_MESSAGES = re.compile(
    r"(Executor is |wake up the engine|Successfully reset prefix cache|Resetting prefix cache"
    r"|Using sleep-mode backend|Invocation of |Exception caught|\w+Error: )"
)


def known_templates(lines: list[str]) -> list[str]:
    """Templates of the lines the parser reads an event from and of the sleep machinery's."""
    found = []
    for line in lines:
        shape = template(line)
        match = _RECORD.match(line)
        if shape is None or match is None:
            continue
        if parse_line(line) is not None or _SLEEP_MESSAGES.match(match["message"]):
            found.append(shape)
    return sorted(found)


def events(lines: list[str]) -> list[Step]:
    """Each event's kind, its figures' presence and its tags, in order."""
    out = []
    for line in lines:
        event = parse_line(line)
        if event is not None:
            data = event.to_json_dict()
            out.append(
                {"event": data["event"], "tags": data.get("tags"),
                 "figures": sorted(k for k, v in data.items() if v is not None)}
            )  # fmt: skip
    return out


def figures(lines: list[str], name: str) -> list[float]:
    values = []
    for line in lines:
        event = parse_line(line)
        if event is not None and getattr(event, name, None) is not None:
            values.append(float(getattr(event, name)))
    return values


def client_port(lines: list[str]) -> int | None:
    """The client port of the step's access line: a new one means a new connection."""
    for line in lines:
        match = _CLIENT.search(line)
        if match is not None:
            return int(match[1])
    return None
