"""Per-key usage in ``/metrics``: counters per key name and model, read from ``KeyUsage``.

Labelled with the key's name and id (never the key); the rows trail the gateway by up to
a minute and a second (the drain's beat and the web processes' flush).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from console.gateway.usage import USAGE_COUNTERS
from console.gateway.usage_store import totals

PREFIX = "vllm_console_key"
DESCRIPTIONS = {
    "requests": "Requests the gateway answered for the key (429s excluded).",
    "prompt_tokens": "Prompt tokens the engines reported for the key's requests.",
    "completion_tokens": "Completion tokens the engines reported for the key's requests.",
    "held_seconds": "Seconds the key's requests waited before an engine got them.",
    "rejected": "Requests refused with 429: over one of the key's limits.",
}


def usage_metrics() -> Iterator[Metric]:
    families = {
        name: CounterMetricFamily(f"{PREFIX}_{name}", DESCRIPTIONS[name],
                                  labels=["key", "key_id", "model"])
        for name in USAGE_COUNTERS
    }  # fmt: skip
    for row in totals():
        labels = [row["key__name"], str(row["key_id"]), row["model"]]
        for name, family in families.items():
            family.add_metric(labels, float(row[name] or 0))
    yield from families.values()
