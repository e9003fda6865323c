"""Benchmark: the /v1 gateway's added latency and throughput against direct engine calls.

Starts one emulator, the console's web process (uvicorn, ``console.asgi``) routing to it,
and, when ``/tmp/litellm-venv/bin/litellm`` exists, LiteLLM's proxy pointed at the same
emulator; then measures, in the same run and against the same engine:

- added latency of a non-streaming completion (p50, p99; sequential requests);
- time to the first streamed byte (p50, p99);
- throughput at 64 concurrent streams (completed streams per second), as a ratio of direct.

The console's targets: under 2 ms added at p50, at least 90% of direct throughput.

    .venv/bin/python bench/gateway.py                        # Redis at 127.0.0.1:6379/2
    .venv/bin/python bench/gateway.py --requests 500 --streams 64 --stream-tokens 32
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import gateway_procs as procs  # bench/ is on the path when this file is run
import httpx

TARGET_ADDED_MS = 2.0
TARGET_THROUGHPUT = 0.9


@dataclass(frozen=True)
class Target:
    """One way to reach the engines: the completions URL per model, the headers it needs."""

    name: str
    urls: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Figures:
    """What one target measured."""

    latency_ms: list[float]
    ttfb_ms: list[float]
    streams_per_s: float


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def body(model: str, stream: bool, max_tokens: int) -> dict[str, object]:
    return {"model": model, "prompt": "Benchmark the gateway", "max_tokens": max_tokens,
            "temperature": 0, "stream": stream}  # fmt: skip


async def latency(client: httpx.AsyncClient, target: Target, n: int) -> list[float]:
    times = []
    for i in range(n + 10):
        started = time.perf_counter()
        response = await client.post(target.urls[procs.FAST], json=body(procs.FAST, False, 1),
                                     headers=target.headers)  # fmt: skip
        response.raise_for_status()
        if i >= 10:  # the first requests warm connections up
            times.append((time.perf_counter() - started) * 1000)
    return times


async def ttfb(client: httpx.AsyncClient, target: Target, n: int) -> list[float]:
    times = []
    for i in range(n + 10):
        started = time.perf_counter()
        first: float | None = None
        async with client.stream("POST", target.urls[procs.FAST], json=body(procs.FAST, True, 4),
                                 headers=target.headers) as response:  # fmt: skip
            async for _ in response.aiter_raw():
                first = first or time.perf_counter()
        if i >= 10 and first is not None:
            times.append((first - started) * 1000)
    return times


async def throughput(
    client: httpx.AsyncClient, target: Target, streams: int, total: int, tokens: int
) -> float:
    queue = list(range(total))

    async def worker() -> None:
        while queue:
            queue.pop()
            async with client.stream("POST", target.urls[procs.PACED],
                                     json=body(procs.PACED, True, tokens),
                                     headers=target.headers) as response:  # fmt: skip
                response.raise_for_status()
                async for _ in response.aiter_raw():
                    pass

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(streams)))
    return total / (time.perf_counter() - started)


async def measure(target: Target, args: argparse.Namespace) -> Figures:
    limits = httpx.Limits(max_connections=args.streams * 2, max_keepalive_connections=args.streams)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        return Figures(
            await latency(client, target, args.requests),
            await ttfb(client, target, args.requests),
            await throughput(client, target, args.streams, args.streams * 8, args.stream_tokens),
        )


def report(results: dict[str, Figures]) -> None:
    direct = results["direct"]
    print(f"{'path':<10} {'p50 ms':>8} {'p99 ms':>8} {'ttfb p50':>9} {'ttfb p99':>9} "
          f"{'streams/s':>10} {'added p50':>10} {'added p99':>10} {'thru ratio':>10}")  # fmt: skip
    for name, f in results.items():
        added50 = pct(f.latency_ms, 0.5) - pct(direct.latency_ms, 0.5)
        added99 = pct(f.latency_ms, 0.99) - pct(direct.latency_ms, 0.99)
        ratio = f.streams_per_s / direct.streams_per_s
        print(f"{name:<10} {pct(f.latency_ms, 0.5):8.2f} {pct(f.latency_ms, 0.99):8.2f} "
              f"{pct(f.ttfb_ms, 0.5):9.2f} {pct(f.ttfb_ms, 0.99):9.2f} {f.streams_per_s:10.1f} "
              f"{added50:10.2f} {added99:10.2f} {ratio:10.2f}")  # fmt: skip
    gateway = results["gateway"]
    added = pct(gateway.latency_ms, 0.5) - pct(direct.latency_ms, 0.5)
    ratio = gateway.streams_per_s / direct.streams_per_s
    print(f"\ngateway: added p50 {added:.2f} ms (target < {TARGET_ADDED_MS} ms), "
          f"throughput {ratio:.0%} of direct (target >= {TARGET_THROUGHPUT:.0%}); "
          f"mean direct latency {statistics.mean(direct.latency_ms):.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per test")
    parser.add_argument("--streams", type=int, default=64, help="concurrent streams")
    parser.add_argument("--stream-tokens", type=int, default=16, help="tokens per stream")
    parser.add_argument("--tokens-per-second", type=float, default=50.0,
                        help="the paced engine's decode speed per stream")  # fmt: skip
    parser.add_argument("--no-litellm", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    env = procs.bench_env(data_dir, args.redis_url)
    engines = {procs.FAST: procs.free_port(), procs.PACED: procs.free_port()}
    gateway_url, litellm_port = f"http://127.0.0.1:{procs.free_port()}", procs.free_port()
    try:
        with ExitStack() as stack:
            for model, port in engines.items():
                speed = 100_000.0 if model == procs.FAST else args.tokens_per_second
                stack.enter_context(procs.emulator(model, port, env, data_dir, speed))
            key = procs.prepare_database(env, engines)
            stack.enter_context(procs.gateway(int(gateway_url.rsplit(":", 1)[1]), env, data_dir))
            direct = {m: f"http://127.0.0.1:{p}/v1/completions" for m, p in engines.items()}
            targets = [Target("direct", direct, {}),
                       Target("gateway", dict.fromkeys(engines, f"{gateway_url}/v1/completions"),
                              {"Authorization": f"Bearer {key}"})]  # fmt: skip
            if procs.LITELLM.exists() and not args.no_litellm:
                stack.enter_context(procs.litellm(litellm_port, engines, data_dir))
                url = f"http://127.0.0.1:{litellm_port}/v1/completions"
                auth = {"Authorization": f"Bearer {procs.LITELLM_KEY}"}
                targets.append(Target("litellm", dict.fromkeys(engines, url), auth))
            else:
                print(f"LiteLLM not measured ({procs.LITELLM} missing or --no-litellm)")
            results = {t.name: asyncio.run(measure(t, args)) for t in targets}
        report(results)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
