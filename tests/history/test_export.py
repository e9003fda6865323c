"""CSV text of history rows."""

from __future__ import annotations

from console.history.export import iso_from_epoch, to_csv


def test_csv_has_a_header_then_one_line_per_row() -> None:
    assert to_csv(["time", "avg"], [["t1", 1.5], ["t2", None]]) == "time,avg\nt1,1.5\nt2,\n"


def test_epoch_seconds_become_utc_iso_times() -> None:
    assert iso_from_epoch(0) == "1970-01-01T00:00:00+00:00"
