"""What Prometheus alert rules need beyond the memory and job series: each host's last
heartbeat (a host is offline when it is old) and the console's own alert deliveries."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from console.models import Host
from console.models.notifications import DeliveryState, NotificationDelivery

PREFIX = "vllm_console"


def alerting_metrics() -> Iterator[Metric]:
    beats = GaugeMetricFamily(
        f"{PREFIX}_host_last_heartbeat_timestamp_seconds",
        "Unix time of the host agent's last heartbeat.",
        labels=["host"],
    )
    for name, beat in Host.objects.values_list("name", "last_heartbeat"):
        if beat is not None:
            beats.add_metric([name], beat.timestamp())
    yield beats
    deliveries = CounterMetricFamily(
        f"{PREFIX}_alert_deliveries", "Alert deliveries by state.", labels=["state"]
    )
    counts = dict(
        NotificationDelivery.objects.values_list("state").annotate(n=Count("id")).order_by()
    )
    for state in DeliveryState:
        deliveries.add_metric([state.value], float(counts.get(state.value, 0)))
    yield deliveries
