"""Which stored resolution answers a time range with at most ``MAX_POINTS`` points.

Raw samples (one a second) are kept ``CONSOLE_RAW_RETENTION_HOURS``, minute rollups 30
days, hour rollups 400 days. A range is answered from the finest resolution that still
holds its start: as stored when that gives few enough points, else averaged into wider
buckets in SQL as long as that reads at most ``MAX_SCAN_ROWS`` rows (the last hour: raw
rows in 2-second buckets), else from the next coarser resolution. The coarsest kept is
always re-bucketed when needed (90 days of hours are 2,160 rows: 2-hour buckets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from console.models import Resolution

MAX_POINTS = 2000
# Rows one chart query may aggregate on the fly (about 10 ms on SQLite or PostgreSQL).
MAX_SCAN_ROWS = 20_000
STEP_SECONDS: dict[Resolution, int] = {
    Resolution.RAW: 1,
    Resolution.MINUTE: 60,
    Resolution.HOUR: 3600,
}
ORDER = (Resolution.RAW, Resolution.MINUTE, Resolution.HOUR)


def retention(resolution: Resolution) -> timedelta:
    """How long rows of ``resolution`` are kept before the retention task deletes them."""
    if resolution == Resolution.RAW:
        return timedelta(hours=settings.CONSOLE_RAW_RETENTION_HOURS)
    if resolution == Resolution.MINUTE:
        return timedelta(days=30)
    return timedelta(days=400)


@dataclass(frozen=True)
class Choice:
    """The resolution to read, and the bucket width to re-aggregate into (None: as stored)."""

    resolution: Resolution
    bucket_seconds: int | None


def choose(start: datetime, end: datetime, now: datetime) -> Choice:
    span = max((end - start).total_seconds(), 1.0)
    kept = [res for res in ORDER if start >= now - retention(res)] or [Resolution.HOUR]
    for res in kept:
        step = STEP_SECONDS[res]
        rows = span / step
        if rows <= MAX_POINTS:
            return Choice(res, None)
        if rows <= MAX_SCAN_ROWS or res == kept[-1]:
            return Choice(res, step * math.ceil(span / (MAX_POINTS * step)))
    raise AssertionError("unreachable: the coarsest resolution always answers")
