"""The asyncio client: drives the same operations as :class:`EngineClient`, awaiting I/O."""

from __future__ import annotations

from collections.abc import Sequence
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


class AsyncEngineClient:
    """One vLLM server, called from asyncio; same arguments and methods as ``EngineClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        version: VllmVersion | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.base_url = checked_base_url(base_url)
        self._timeout = timeout
        self._timeouts = timeouts or Timeouts()
        self._session = operations.Session(self.base_url, version)
        self._options = client_options(self.base_url, api_key, self._timeouts, timeout)
        self._http = httpx.AsyncClient(**self._options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        timeout = request_timeout(self._timeouts, call.budget, self._timeout)
        try:
            try:
                response = await self._request(self._http, call, timeout)
            except httpx.HTTPError as dropped:
                if not retry_on_fresh_connection(call, dropped):
                    raise
                async with httpx.AsyncClient(**self._options) as fresh:
                    response = await self._request(fresh, call, timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise answers.transport_error(call, self.base_url, exc) from exc
        answers.raise_for_status(call, self.base_url, response)
        return response

    @staticmethod
    async def _request(
        http: httpx.AsyncClient, call: Call, limits: httpx.Timeout
    ) -> httpx.Response:
        return await http.request(
            call.method, call.path, params=call.params, json=call.body, timeout=limits
        )

    async def _run(self, op: operations.Op[T]) -> T:
        try:
            call = next(op)
            while True:
                try:
                    response = await self._send(call)
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

    async def health(self) -> bool:
        return await self._run(operations.health())

    async def version(self) -> VllmVersion:
        return await self._run(operations.version(self._session))

    async def models(self) -> list[str]:
        return await self._run(operations.models(self._session))

    async def is_sleeping(self) -> bool:
        return await self._run(operations.is_sleeping(self._session))

    async def sleep(self, level: int = 1, *, mode: SleepMode | None = None) -> None:
        await self._run(operations.sleep(self._session, level, mode))

    async def wake(self, tags: Sequence[str] | None = None) -> None:
        await self._run(operations.wake(self._session, tags))

    async def wake_level2(self) -> dict[str, float]:
        return await self._run(operations.wake_level2(self._session))

    async def reset_prefix_cache(self) -> None:
        await self._run(operations.reset_prefix_cache(self._session))

    async def collective_rpc(self, method: str) -> object:
        return await self._run(operations.collective_rpc(self._session, method))

    async def metrics(self) -> EngineMetrics:
        return await self._run(operations.metrics(self._session))

    async def warmup(self) -> float:
        return await self._run(operations.warmup(self._session))
