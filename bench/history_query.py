"""Benchmark: chart queries on 30 days of 1-second samples for 8 GPUs.

Fills a fresh database the way retention leaves it after 30 days of sampling (raw rows for
the last ``--raw-hours``, minute rollups for 30 days, hour rollups for all of it), then
times ``console.history.memory.memory_series`` for one GPU over several ranges, each
answered at the resolution the console picks. The console's target: under 100 ms.

    .venv/bin/python bench/history_query.py                 # SQLite in a temp dir
    .venv/bin/python bench/history_query.py --db-url postgres://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET_MS = 100.0
RANGES = {
    "30 min": timedelta(minutes=30),
    "1 h": timedelta(hours=1),
    "5 h": timedelta(hours=5),
    "24 h": timedelta(hours=24),
    "2 days": timedelta(days=2),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "90 days": timedelta(days=90),
}
GIB = 1 << 30
Row = tuple[Any, str, str, int, int, int, int, int | None, int | None]


def setup_django(db_url: str, data_dir: Path) -> None:
    os.environ.update(
        DATABASE_URL=db_url, CONSOLE_DATA_DIR=str(data_dir),
        CONSOLE_SECRET_KEY="bench-only", DJANGO_SETTINGS_MODULE="console.settings",
    )  # fmt: skip
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()


def rows(
    gpu_ids: list[int], host_id: int, now: datetime, days: int, raw_hours: int
) -> Iterator[Row]:
    """(at, resolution, subject, host, gpu, used, total, min, max) as retention leaves them."""
    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    plans = (("1h", 3600, timedelta(days=days)), ("1m", 60, timedelta(days=min(days, 30))),
             ("raw", 1, timedelta(hours=raw_hours)))  # fmt: skip
    for resolution, step, span in plans:
        start = int((now - span).timestamp())
        start -= start % step
        for epoch in range(start, int(now.timestamp()), step):
            at = adapt(datetime.fromtimestamp(epoch, tz=UTC))
            for gpu_id in gpu_ids:
                used = (40 + (epoch // 600 + gpu_id) % 30) * GIB
                low, high = (used - GIB, used + GIB) if step > 1 else (None, None)
                yield (at, resolution, "gpu", host_id, gpu_id, used, 80 * GIB, low, high)


def fill(gpus: int, days: int, raw_hours: int, now: datetime) -> int:
    from django.db import connection, transaction

    from console.models import Gpu, Host

    host = Host.objects.create(name="bench-host")
    gpu_ids = [Gpu.objects.create(host=host, index=i, total_bytes=80 * GIB).pk for i in range(gpus)]
    sql = ("INSERT INTO console_memorysample (at, resolution, subject, host_id, gpu_id, used_bytes,"
           " total_bytes, min_used_bytes, max_used_bytes, extra) VALUES"
           " (%s, %s, %s, %s, %s, %s, %s, %s, %s, '{}')")  # fmt: skip
    count, batch = 0, list[Row]()
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows(gpu_ids, host.pk, now, days, raw_hours):
            batch.append(row)
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                count, batch = count + len(batch), []
        cursor.executemany(sql, batch)
    connection.cursor().execute("ANALYZE")
    return count + len(batch)


def time_queries(gpu_id: int, now: datetime, repeat: int) -> None:
    from console.history.memory import memory_series
    from console.history.resolution import choose
    from console.models import Subject

    header = ("read as", "points", "median ms", "max ms", "vs 100 ms")
    print(f"{'range':<9}" + "".join(f"{name:>14}" for name in header))
    for label, span in RANGES.items():
        timings, series = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            series = memory_series(Subject.GPU, gpu_id, now - span, now, now)
            timings.append((time.perf_counter() - started) * 1000)
        assert series is not None
        choice = choose(now - span, now, now)
        read_as = choice.resolution + (
            f" @{choice.bucket_seconds}s" if choice.bucket_seconds else ""
        )
        median = statistics.median(timings)
        figures = (read_as, len(series.points), f"{median:.1f}", f"{max(timings):.1f}",
                   f"{median / TARGET_MS:.2f}x")  # fmt: skip
        print(f"{label:<9}" + "".join(f"{figure:>14}" for figure in figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--raw-hours", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-history-"))
    setup_django(args.db_url or f"sqlite:///{data_dir / 'bench.sqlite3'}", data_dir)
    from django.core.management import call_command

    from console.models import Gpu

    call_command("migrate", verbosity=0)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    count = fill(args.gpus, args.days, args.raw_hours, now)
    elapsed = time.perf_counter() - started
    print(f"filled {count:,} rows ({args.gpus} GPUs, {args.days} days) in {elapsed:.0f} s")
    print(f"database: {args.db_url or data_dir}")
    time_queries(Gpu.objects.order_by("index").values_list("pk", flat=True)[0], now, args.repeat)
    shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
