"""Histogram arithmetic: the difference of two scrapes and quantiles from its buckets."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.metrics import Histogram

INF = math.inf
# 10 observations: 2 up to 0.1 s, 6 in (0.1, 0.5], 2 in (0.5, 1.0].
EARLIER = Histogram(((0.1, 2.0), (0.5, 8.0), (1.0, 10.0), (INF, 10.0)), sum=4.0, count=10.0)
# 10 more: 0 up to 0.1 s, 0 in (0.1, 0.5], 8 in (0.5, 1.0], 2 above 1 s.
LATER = Histogram(((0.1, 2.0), (0.5, 8.0), (1.0, 18.0), (INF, 20.0)), sum=14.0, count=20.0)


def test_minus_keeps_only_what_was_observed_between_scrapes() -> None:
    delta = LATER.minus(EARLIER)

    assert delta.buckets == ((0.1, 0.0), (0.5, 0.0), (1.0, 8.0), (INF, 10.0))
    assert (delta.sum, delta.count) == (10.0, 10.0)


def test_minus_after_a_restart_keeps_the_whole_later_scrape() -> None:
    restarted = Histogram(((0.1, 1.0), (0.5, 1.0), (1.0, 1.0), (INF, 1.0)), sum=0.05, count=1.0)

    assert restarted.minus(EARLIER) is restarted


def test_minus_with_other_bounds_keeps_the_whole_later_scrape() -> None:
    other = Histogram(((0.2, 30.0), (INF, 30.0)), sum=3.0, count=30.0)

    assert other.minus(EARLIER) is other


def test_median_is_interpolated_within_its_bucket() -> None:
    # rank 5 of 10 is the 3rd of the 6 observations in (0.1, 0.5]: 0.1 + 0.4 * 3/6.
    assert EARLIER.p50 == pytest.approx(0.3)


def test_p95_is_interpolated_within_its_bucket() -> None:
    # rank 9.5 is 1.5 of the 2 observations in (0.5, 1.0]: 0.5 + 0.5 * 1.5/2.
    assert EARLIER.p95 == pytest.approx(0.875)


def test_first_bucket_is_interpolated_from_zero() -> None:
    # rank 1 of 10 is the 1st of 2 observations in [0, 0.1].
    assert EARLIER.quantile(0.1) == pytest.approx(0.05)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert LATER.minus(EARLIER).p95 == 1.0


def test_quantile_of_an_empty_window_is_none() -> None:
    assert EARLIER.minus(EARLIER).p50 is None


def test_quantile_of_a_histogram_with_only_the_inf_bucket_is_none() -> None:
    assert Histogram(((INF, 3.0),), sum=1.0, count=3.0).p50 is None


def test_quantile_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="within"):
        EARLIER.quantile(1.5)


def test_mean_is_sum_over_count() -> None:
    assert EARLIER.mean == pytest.approx(0.4)
    assert EARLIER.minus(EARLIER).mean is None


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=3, max_size=3))
def test_quantiles_never_decrease_and_stay_within_the_finite_bounds(counts: list[int]) -> None:
    cumulative = [sum(counts[: i + 1]) for i in range(3)]
    histogram = Histogram(
        ((0.1, cumulative[0]), (1.0, cumulative[1]), (10.0, cumulative[2]), (INF, cumulative[2])),
        sum=0.0,
        count=cumulative[2],
    )
    values = [histogram.quantile(q / 20) for q in range(21)]

    if cumulative[2] == 0:
        assert values == [None] * 21
        return
    finite = [value for value in values if value is not None]
    assert finite == sorted(finite)
    assert all(0.0 <= value <= 10.0 for value in finite)
