"""vLLM's ``/metrics`` page as a dataclass: load, sleep state and latency histograms.

The text is parsed with prometheus_client's own parser; this module only picks vLLM's
metrics out of it (names per docs/vllm-behaviour.md §7) and checks that what it uses is
coherent, so garbage or a truncated scrape raises :class:`MetricsParseError` instead of
producing numbers nobody should trust.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client.parser import text_string_to_metric_families

from engines.errors import MetricsParseError

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
# 0.9.2 renamed the gauge; the old name is hidden from 0.9.2 and gone in 0.12.0
# (docs/vllm-behaviour.md §7).
KV_CACHE_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
SLEEP_STATE = "vllm:engine_sleep_state"  # 0.11.1+
TTFT = "vllm:time_to_first_token_seconds"
E2E_LATENCY = "vllm:e2e_request_latency_seconds"

Labels = dict[str, str]
Samples = dict[str, list[tuple[Labels, float]]]

__all__ = ["EngineMetrics", "Histogram", "MetricsParseError", "SleepState", "parse_metrics"]


class SleepState(StrEnum):
    """What ``vllm:engine_sleep_state`` says (one gauge per ``sleep_state`` label value)."""

    AWAKE = "awake"  # awake=1
    WEIGHTS_OFFLOADED = "weights_offloaded"  # level 1
    DISCARD_ALL = "discard_all"  # level 2
    # awake=0 with neither flag: level 0, release_kv_cache_memory, or a level other than 1/2.
    ASLEEP_OTHER = "asleep_other"


@dataclass(frozen=True)
class Histogram:
    """A Prometheus histogram: ``(upper bound, cumulative count)`` pairs ending at +Inf.

    Counts only grow while the server lives, so the latency of a time window is the
    difference of two scrapes (:meth:`minus`) and its quantiles are estimated from the
    buckets of that difference (:meth:`quantile`).
    """

    buckets: tuple[tuple[float, float], ...]
    sum: float
    count: float

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations made after ``earlier`` was scraped.

        If a count went down or the bounds differ, the server restarted in between; as
        Prometheus does for counter resets, everything in this scrape is then new.
        """
        bounds = [bound for bound, _ in self.buckets]
        if bounds != [bound for bound, _ in earlier.buckets]:
            return self
        deltas = [
            (b, now - then)
            for (b, now), (_, then) in zip(self.buckets, earlier.buckets, strict=True)
        ]
        if self.count < earlier.count or any(delta < 0 for _, delta in deltas):
            return self
        return Histogram(tuple(deltas), self.sum - earlier.sum, self.count - earlier.count)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile, linearly interpolated within its bucket (``histogram_quantile``).

        None when nothing was observed. A rank that falls in the +Inf bucket gives the
        highest finite bound, since nothing is known above it.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q}")
        total = self.buckets[-1][1] if self.buckets else 0.0
        if total <= 0:
            return None
        rank = q * total
        # Below the first bound lies 0 (latencies are positive), as histogram_quantile assumes.
        lower, below = min(0.0, self.buckets[0][0]), 0.0
        for index, (upper, cumulative) in enumerate(self.buckets):
            if cumulative >= rank:
                if math.isinf(upper):
                    return lower if index > 0 else None
                return _interpolate(lower, upper, below, cumulative, rank)
            lower, below = upper, cumulative
        return None

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count > 0 else None

    @property
    def p50(self) -> float | None:
        return self.quantile(0.5)

    @property
    def p95(self) -> float | None:
        return self.quantile(0.95)


def _interpolate(lower: float, upper: float, below: float, cumulative: float, rank: float) -> float:
    if cumulative == below:
        return lower
    return lower + (upper - lower) * (rank - below) / (cumulative - below)


@dataclass(frozen=True)
class EngineMetrics:
    """One scrape of an engine, summed over its engine cores (``engine`` label, one per DP rank).

    ``kv_cache_usage`` (0..1) is the mean over engine cores, which is the overall fraction
    for equal-sized caches. Fields are None where the version does not export the metric.
    """

    running: int
    waiting: int
    kv_cache_usage: float | None
    sleep_state: SleepState | None
    ttft: Histogram | None
    e2e_latency: Histogram | None


def parse_metrics(text: str) -> EngineMetrics:
    """Parse a ``/metrics`` page; raise :class:`MetricsParseError` if it is not usable."""
    samples = _collect(text)
    kv_usage = next((_mean(samples[name]) for name in KV_CACHE_USAGE if name in samples), None)
    return EngineMetrics(
        running=_required_count(samples, RUNNING),
        waiting=_required_count(samples, WAITING),
        kv_cache_usage=kv_usage,
        sleep_state=_sleep_state(samples.get(SLEEP_STATE, [])),
        ttft=_histogram(samples, TTFT),
        e2e_latency=_histogram(samples, E2E_LATENCY),
    )


def _collect(text: str) -> Samples:
    samples: Samples = defaultdict(list)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[sample.name].append((dict(sample.labels), float(sample.value)))
    # The parser is lazy: a malformed line raises ValueError only when iteration reaches it.
    except ValueError as exc:
        raise MetricsParseError(f"not Prometheus text: {exc}") from exc
    return samples


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise MetricsParseError(f"{name} is {value}")
    return value


def _required_count(samples: Samples, name: str) -> int:
    if name not in samples:
        raise MetricsParseError(f"{name} missing: not a vLLM /metrics page, or cut short")
    total = sum(_finite(value, name) for _, value in samples[name])
    if total < 0:
        raise MetricsParseError(f"{name} is negative")
    return round(total)


def _mean(entries: list[tuple[Labels, float]]) -> float:
    return sum(_finite(value, "KV cache usage") for _, value in entries) / len(entries)


def _sleep_state(entries: list[tuple[Labels, float]]) -> SleepState | None:
    """The first engine core's state: utility calls reach every core, so they agree."""
    if not entries:
        return None
    first = min(labels.get("engine", "") for labels, _ in entries)
    flags = {
        labels.get("sleep_state", ""): value
        for labels, value in entries
        if labels.get("engine", "") == first
    }
    for state in (SleepState.AWAKE, SleepState.WEIGHTS_OFFLOADED, SleepState.DISCARD_ALL):
        if flags.get(state.value) == 1.0:
            return state
    return SleepState.ASLEEP_OTHER


def _histogram(samples: Samples, name: str) -> Histogram | None:
    """The histogram ``name`` summed over its label sets, or None when absent."""
    raw = samples.get(f"{name}_bucket")
    if raw is None:
        return None
    by_bound: dict[float, float] = defaultdict(float)
    for labels, value in raw:
        try:
            bound = float(labels["le"])
        except (KeyError, ValueError) as exc:
            raise MetricsParseError(f"{name}: bucket without a valid 'le' label") from exc
        by_bound[bound] += _finite(value, name)
    buckets = tuple(sorted(by_bound.items()))
    total = sum(_finite(v, f"{name}_sum") for _, v in samples.get(f"{name}_sum", []))
    count = sum(_finite(v, f"{name}_count") for _, v in samples.get(f"{name}_count", []))
    _check_histogram(name, buckets, count)
    return Histogram(buckets, total, count)


def _check_histogram(name: str, buckets: tuple[tuple[float, float], ...], count: float) -> None:
    if buckets[-1][0] != math.inf:
        raise MetricsParseError(f"{name}: no +Inf bucket (truncated?)")
    counts = [cumulative for _, cumulative in buckets]
    if counts[0] < 0 or any(later < earlier for earlier, later in itertools.pairwise(counts)):
        raise MetricsParseError(f"{name}: bucket counts are not cumulative")
    if count != counts[-1]:
        raise MetricsParseError(f"{name}: _count {count} differs from the +Inf bucket")
