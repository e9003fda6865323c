"""Every client operation as a generator that yields requests and receives answers.

An operation yields a :class:`Call`, gets back the 2xx ``httpx.Response`` (or has the
call's typed error thrown into it), and finally returns its result. The client only
sends what they yield, so the sequencing (ask the version once, check features, the
level-2 wake) is protocol alone and is tested without a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from engines.client import answers, calls
from engines.client.calls import Call, SleepMode
from engines.errors import DevModeOff, EngineAsleep, EngineServerError, MetricsParseError
from engines.metrics import EngineMetrics, parse_metrics
from engines.versions import Features, VllmVersion, features

T = TypeVar("T")
Op = Generator[Call, httpx.Response, T]


@dataclass
class Session:
    """What a client remembers between calls: the engine's URL and, once asked, its version."""

    url: str
    version: VllmVersion | None = None


def version(session: Session) -> Op[VllmVersion]:
    if session.version is None:
        call = calls.version_call()
        session.version = answers.parse_version(call, session.url, (yield call))
    return session.version


def _features(session: Session) -> Op[Features]:
    return features((yield from version(session)))


def health() -> Op[bool]:
    yield calls.health_call()
    return True


def models(session: Session) -> Op[list[str]]:
    call = calls.models_call()
    return answers.parse_models(call, session.url, (yield call))


def is_sleeping(session: Session) -> Op[bool]:
    call = calls.is_sleeping_call((yield from _features(session)))
    return answers.parse_is_sleeping(call, session.url, (yield call))


def sleep(session: Session, level: int, mode: SleepMode | None) -> Op[None]:
    found = yield from _features(session)
    call = calls.sleep_call(found, level, mode)
    answers.check_sleep_answer(call, session.url, found, level, (yield call))


def wake(session: Session, tags: Sequence[str] | None) -> Op[None]:
    found = yield from _features(session)
    call = calls.wake_call(found, tags)
    answers.check_wake_answer(call, session.url, found, (yield call))


def collective_rpc(session: Session, method: str) -> Op[object]:
    call = calls.collective_rpc_call((yield from _features(session)), method)
    return answers.parse_rpc_results(call, session.url, (yield call))


def reset_prefix_cache(session: Session) -> Op[None]:
    found = yield from _features(session)
    call = calls.reset_prefix_cache_call(found)
    answers.check_reset_answer(call, session.url, found, (yield call))


def wake_level2(session: Session) -> Op[dict[str, float]]:
    """Weights, ``reload_weights``, KV cache, prefix cache reset (docs/vllm-behaviour.md §3).

    Weights come back first so the reload has its memory, and the KV cache after it (the
    documented order, which avoids an OOM during the reload). The prefix cache is reset
    because its entries were computed with the discarded weights.

    Before 0.10.2 there is no such sequence (no ``/collective_rpc``): UnsupportedByVersion
    is raised before anything is sent. On 0.17-0.30 the weights-only wake already resumes
    scheduling (vLLM #44395), so keep generation traffic away until this returns.

    Returns each call's wall seconds: vLLM logs no line for the reload, so its call's
    seconds are the only measure of it.
    """
    calls.require_level2_wake((yield from _features(session)))
    seconds: dict[str, float] = {}
    steps: tuple[tuple[str, Callable[[], Op[Any]]], ...] = (
        ("wake_weights", lambda: wake(session, ["weights"])),
        ("reload_weights", lambda: collective_rpc(session, "reload_weights")),
        ("wake_kv_cache", lambda: wake(session, ["kv_cache"])),
        ("reset_prefix_cache", lambda: reset_prefix_cache(session)),
    )
    for name, step in steps:
        started = time.perf_counter()
        yield from step()
        seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


def metrics(session: Session) -> Op[EngineMetrics]:
    response = yield calls.metrics_call()
    try:
        return parse_metrics(response.text)
    except MetricsParseError as exc:
        raise MetricsParseError(exc.message, url=session.url, operation="metrics") from exc


def warmup(session: Session) -> Op[float]:
    """A one-token completion; returns the wall seconds of that request alone.

    Refuses to send it to a sleeping engine: on <=0.16 that kills the engine, on 0.17+
    it hangs until someone wakes it (docs/vllm-behaviour.md §4).
    """
    names = yield from models(session)
    if not names:
        raise EngineServerError("the engine serves no model", url=session.url, operation="warmup")
    if (yield from _asleep(session)):
        raise EngineAsleep(
            "the engine is asleep: wake it first", url=session.url, operation="warmup"
        )
    call = calls.completion_call(names[0])
    started = time.perf_counter()
    response = yield call
    elapsed = time.perf_counter() - started
    answers.check_completion(call, session.url, response)
    return elapsed


def _asleep(session: Session) -> Op[bool]:
    """Whether the engine says it sleeps; False where it cannot say (0.7.x, dev mode off).

    Without dev mode nobody can have put it to sleep over HTTP.
    """
    if not (yield from _features(session)).has_is_sleeping:
        return False
    try:
        return (yield from is_sleeping(session))
    except DevModeOff:
        return False
