"""The asyncio client against the emulator: same operations, same typed errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from engines.client import AsyncEngineClient
from engines.errors import DevModeOff, EngineUnreachable, UnsupportedByVersion
from engines.metrics import SleepState
from engines.versions import v
from tests.conftest import EmulatorFactory
from tests.support.emulator import EmulatorProcess, free_port

FAST = (
    "--enable-sleep-mode",
    "--weights-gib", "1",
    "--kv-cache-gib", "1",
    "--startup-seconds", "0",
    "--time-scale", "0.05",
    "--tokens-per-second", "5000",
)  # fmt: skip


@pytest.fixture
def emu_0_17(emulator_factory: EmulatorFactory) -> Iterator[EmulatorProcess]:
    with emulator_factory(*FAST, version="0.17.0") as emu:
        yield emu


@pytest.fixture
def emu_0_33(emulator_factory: EmulatorFactory) -> Iterator[EmulatorProcess]:
    with emulator_factory(*FAST, version="0.33.0") as emu:
        yield emu


@pytest.fixture
def emu_dev_off(emulator_factory: EmulatorFactory) -> Iterator[EmulatorProcess]:
    with emulator_factory(*FAST, dev_mode=None) as emu:
        yield emu


async def complete(url: str) -> str:
    body = {"model": "facebook/opt-125m", "prompt": "Paris is", "max_tokens": 6, "temperature": 0}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/v1/completions", json=body)
    return str(response.json()["choices"][0]["text"])


async def test_async_level_1_sleep_then_wake(emu_0_17: EmulatorProcess) -> None:
    async with AsyncEngineClient(emu_0_17.url) as client:
        await client.sleep(1)
        asleep = await client.is_sleeping()
        state = (await client.metrics()).sleep_state
        await client.wake()

        assert (asleep, state) == (True, SleepState.WEIGHTS_OFFLOADED)
        assert await client.is_sleeping() is False


async def test_async_version_and_warmup(emu_0_17: EmulatorProcess) -> None:
    async with AsyncEngineClient(emu_0_17.url) as client:
        assert await client.version() == v("0.17.0")
        assert await client.warmup() > 0.0


async def test_async_level_2_wake_sequence_restores_the_output(emu_0_33: EmulatorProcess) -> None:
    before = await complete(emu_0_33.url)
    async with AsyncEngineClient(emu_0_33.url) as client:
        await client.sleep(2)
        await client.wake_level2()

        assert await client.is_sleeping() is False
    assert await complete(emu_0_33.url) == before


async def test_async_dev_mode_off(emu_dev_off: EmulatorProcess) -> None:
    async with AsyncEngineClient(emu_dev_off.url) as client:
        with pytest.raises(DevModeOff):
            await client.is_sleeping()


async def test_async_closed_port_is_unreachable() -> None:
    async with AsyncEngineClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(EngineUnreachable):
            await client.health()


async def test_async_unsupported_operation_fails_before_any_request() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncEngineClient(url, version=v("0.7.3")) as client:
        with pytest.raises(UnsupportedByVersion, match="is_sleeping"):
            await client.is_sleeping()
