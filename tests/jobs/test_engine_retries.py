"""Retrying engine calls: only when the error says a retry can help."""

from __future__ import annotations

import pytest

from console.jobs.engine_calls import with_retries
from engines.errors import EngineBadRequest, EngineUnreachable


class Flaky:
    """Fails with ``error`` ``failures`` times, then answers."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def unreachable() -> EngineUnreachable:
    return EngineUnreachable(
        "connection refused", url="http://e", operation="sleep", retryable=True
    )


def test_an_unreachable_engine_is_tried_again() -> None:
    call = Flaky(unreachable(), failures=2)
    assert with_retries(call, attempts=3, pause=0) == "done"
    assert call.calls == 3


def test_retries_stop_after_the_last_attempt() -> None:
    call = Flaky(unreachable(), failures=5)
    with pytest.raises(EngineUnreachable):
        with_retries(call, attempts=3, pause=0)
    assert call.calls == 3


def test_a_refused_request_is_not_sent_again() -> None:
    call = Flaky(EngineBadRequest("bad level", url="http://e", operation="sleep"), failures=1)
    with pytest.raises(EngineBadRequest):
        with_retries(call, attempts=3, pause=0)
    assert call.calls == 1
