"""The README's gateway example, run as written: its key may use the model it asks for."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from console.services.demo import DEMO_MODELS
from tests.gateway.conftest import FAST_ENGINE, register
from tests.support.emulator import EmulatorProcess, run_emulator

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## The gateway"
README_URL = "http://127.0.0.1:8000"
README_KEY = "vlc-..."


def example() -> list[list[str]]:
    """The commands of the gateway section's first ``sh`` block, each split as a shell would."""
    section = README.read_text().split(SECTION, 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the gateway section has a shell example"
    return [shlex.split(line) for line in block[1].replace("\\\n", " ").splitlines()]


def curl_body(curl: list[str]) -> dict[str, object]:
    body: dict[str, object] = json.loads(curl[curl.index("-d") + 1])
    return body


@pytest.fixture
def demo_engine(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An engine serving the model the README's request asks for, registered awake."""
    model = str(curl_body(example()[1])["model"])
    with run_emulator(tmp_path, *FAST_ENGINE, "--served-model-name", model) as emulator:
        yield emulator


def test_the_readme_requests_a_demo_model_its_key_may_use() -> None:
    issue, curl = example()
    models = issue[issue.index("--models") + 1].split(",")
    assert curl_body(curl)["model"] in models
    assert set(models) <= set(DEMO_MODELS.values())


def test_the_readme_example_answers_200_through_the_gateway(
    gateway: str, demo_engine: EmulatorProcess, transactional_db: None
) -> None:
    issue, curl = example()
    register(demo_engine, "readme", served_model_name=str(curl_body(curl)["model"]))
    printed = io.StringIO()
    call_command(*issue[issue.index("issue_inference_key") :], stdout=printed)
    key = printed.getvalue().strip()
    command = [arg.replace(README_URL, gateway).replace(README_KEY, key) for arg in curl]
    done = subprocess.run([*command, "--silent", "--write-out", "\n%{http_code}"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    body, status = done.stdout.rsplit("\n", 1)
    assert status == "200", body
    assert json.loads(body)["choices"][0]["message"]["content"]
