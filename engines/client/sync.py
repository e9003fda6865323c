"""The blocking client: drives the operations of :mod:`engines.client.operations` over httpx."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self, TypeVar

import httpx

from engines.client import answers, operations
from engines.client.calls import Call, SleepMode, Timeouts
from engines.client.transport import (
    checked_base_url,
    client_options,
    request_timeout,
    retry_on_fresh_connection,
)
from engines.errors import EngineError
from engines.metrics import EngineMetrics
from engines.versions import VllmVersion

T = TypeVar("T")
# The httpcore trace step between a request written and its answer's head read.
_AWAIT_STEP = "http11.receive_response_headers."
_AWAIT_STARTED = _AWAIT_STEP + "started"


class EngineClient:
    """One vLLM server (or emulator), called synchronously.

    ``timeout`` is the read timeout of quick calls (version, models, is_sleeping, metrics);
    ``timeouts`` holds the others (health 5 s, sleep/wake/reload 600 s, warmup 120 s, connect
    5 s). ``version`` skips the ``/version`` request when the caller already knows it.
    ``awaiting`` is told True once a request is sent and its answer is awaited, and False
    when the answer's head has come (or the wait failed): the time the engine works, when
    the caller's other threads may run. Every failure is an :class:`~engines.errors.EngineError`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        version: VllmVersion | None = None,
        timeouts: Timeouts | None = None,
        awaiting: Callable[[bool], None] | None = None,
    ) -> None:
        self.base_url = checked_base_url(base_url)
        self._awaiting = awaiting
        self._timeout = timeout
        self._timeouts = timeouts or Timeouts()
        self._session = operations.Session(self.base_url, version)
        self._options = client_options(self.base_url, api_key, self._timeouts, timeout)
        self._http = httpx.Client(**self._options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call) -> httpx.Response:
        timeout = request_timeout(self._timeouts, call.budget, self._timeout)
        try:
            try:
                response = self._request(self._http, call, timeout)
            except httpx.HTTPError as dropped:
                if not retry_on_fresh_connection(call, dropped):
                    raise
                with httpx.Client(**self._options) as fresh:
                    response = self._request(fresh, call, timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise answers.transport_error(call, self.base_url, exc) from exc
        answers.raise_for_status(call, self.base_url, response)
        return response

    def _request(self, http: httpx.Client, call: Call, timeout: httpx.Timeout) -> httpx.Response:
        told = self._awaiting
        waiting = False

        def trace(event: str, info: object) -> None:
            # httpcore's steps: the request written, then the answer's head awaited.
            nonlocal waiting
            if told is None:
                return
            if event == _AWAIT_STARTED:
                waiting = True
                told(True)
            elif waiting and event.startswith(_AWAIT_STEP):
                waiting = False
                told(False)

        try:
            return http.request(
                call.method, call.path, params=call.params, json=call.body, timeout=timeout,
                extensions={} if told is None else {"trace": trace},
            )  # fmt: skip
        finally:
            if waiting and told is not None:
                told(False)

    def _run(self, op: operations.Op[T]) -> T:
        try:
            call = next(op)
            while True:
                try:
                    response = self._send(call)
                except EngineError as exc:
                    call = op.throw(exc)
                else:
                    call = op.send(response)
        except StopIteration as done:
            result: T = done.value
            return result
        except EngineError as exc:
            exc.url = exc.url or self.base_url
            raise

    @property
    def known_version(self) -> VllmVersion | None:
        """The version given or learned by a call so far (no request)."""
        return self._session.version

    def health(self) -> bool:
        """True when ``/health`` answers 200 (also while asleep); a typed error otherwise."""
        return self._run(operations.health())

    def version(self) -> VllmVersion:
        """The server's vLLM version, asked once and cached."""
        return self._run(operations.version(self._session))

    def models(self) -> list[str]:
        """The served model names (LoRA adapters left out)."""
        return self._run(operations.models(self._session))

    def is_sleeping(self) -> bool:
        """``GET /is_sleeping``; 0.17+ also says True while paused or at level 0."""
        return self._run(operations.is_sleeping(self._session))

    def sleep(self, level: int = 1, *, mode: SleepMode | None = None) -> None:
        """``POST /sleep?level=N`` (level 0 and ``mode`` from 0.17)."""
        self._run(operations.sleep(self._session, level, mode))

    def wake(self, tags: Sequence[str] | None = None) -> None:
        """``POST /wake_up``, everything or only ``tags`` (from 0.8.5)."""
        self._run(operations.wake(self._session, tags))

    def wake_level2(self) -> dict[str, float]:
        """Wake from level 2 with the weights reloaded; see ``operations.wake_level2``."""
        return self._run(operations.wake_level2(self._session))

    def reset_prefix_cache(self) -> None:
        self._run(operations.reset_prefix_cache(self._session))

    def collective_rpc(self, method: str) -> object:
        """Call ``method`` on every worker (0.10.2+): None or one result per worker."""
        return self._run(operations.collective_rpc(self._session, method))

    def metrics(self) -> EngineMetrics:
        return self._run(operations.metrics(self._session))

    def warmup(self) -> float:
        """A one-token completion on the first served model; returns its wall seconds."""
        return self._run(operations.warmup(self._session))
