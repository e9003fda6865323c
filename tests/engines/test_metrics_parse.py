"""Parsing ``/metrics`` pages as vLLM versions print them, and refusing everything else."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.errors import EngineError, MetricsParseError
from engines.metrics import EngineMetrics, SleepState, parse_metrics

# 0.9.x (before 0.9.2): the KV cache gauge still has its old name; no sleep-state gauge.
V0_9 = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="facebook/opt-125m"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="facebook/opt-125m"} 1.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="facebook/opt-125m"} 0.25
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_sum{engine="0",model_name="facebook/opt-125m"} 0.9
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.01",model_name="facebook/opt-125m"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="facebook/opt-125m"} 6.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="1.0",model_name="facebook/opt-125m"} 10.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="facebook/opt-125m"} 10.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="facebook/opt-125m"} 10.0
"""

# 0.11.0: the renamed gauge; the old one is hidden; still no sleep-state gauge.
V0_11_0 = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="qwen"} 0.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="qwen"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="qwen"} 0.5
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="qwen"} 1234.0
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="qwen"} 12.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="qwen"} 0.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.5",model_name="qwen"} 0.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="2.5",model_name="qwen"} 4.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="qwen"} 4.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="qwen"} 4.0
"""

# 0.17.0 after sleep?level=1: the sleep-state gauge (0.11.1+), one series per state.
V0_17_LEVEL_1 = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="qwen"} 0.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="qwen"} 2.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="qwen"} 0.0
# HELP vllm:engine_sleep_state Engine sleep state
# TYPE vllm:engine_sleep_state gauge
vllm:engine_sleep_state{engine="0",model_name="qwen",sleep_state="awake"} 0.0
vllm:engine_sleep_state{engine="0",model_name="qwen",sleep_state="weights_offloaded"} 1.0
vllm:engine_sleep_state{engine="0",model_name="qwen",sleep_state="discard_all"} 0.0
"""

# 0.33.0, DP=2 after sleep?level=2: two engine cores, sleep-operation histogram.
V0_33_DP2_LEVEL_2 = """\
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="llama"} 1.0
vllm:num_requests_running{engine="1",model_name="llama"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="llama"} 0.0
vllm:num_requests_waiting{engine="1",model_name="llama"} 5.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="llama"} 0.2
vllm:kv_cache_usage_perc{engine="1",model_name="llama"} 0.6
# TYPE vllm:engine_sleep_state gauge
vllm:engine_sleep_state{engine="0",model_name="llama",sleep_state="awake"} 0.0
vllm:engine_sleep_state{engine="0",model_name="llama",sleep_state="weights_offloaded"} 0.0
vllm:engine_sleep_state{engine="0",model_name="llama",sleep_state="discard_all"} 1.0
vllm:engine_sleep_state{engine="1",model_name="llama",sleep_state="awake"} 0.0
vllm:engine_sleep_state{engine="1",model_name="llama",sleep_state="weights_offloaded"} 0.0
vllm:engine_sleep_state{engine="1",model_name="llama",sleep_state="discard_all"} 1.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="llama"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="llama"} 2.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="llama"} 2.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="llama"} 0.5
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.1",model_name="llama"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="llama"} 3.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="llama"} 3.0
vllm:time_to_first_token_seconds_sum{engine="1",model_name="llama"} 0.1
# TYPE vllm:sleep_mode_operation_duration_seconds histogram
vllm:sleep_mode_operation_duration_seconds_bucket{le="0.01",operation="sleep"} 0.0
vllm:sleep_mode_operation_duration_seconds_bucket{le="+Inf",operation="sleep"} 1.0
vllm:sleep_mode_operation_duration_seconds_count{operation="sleep"} 1.0
vllm:sleep_mode_operation_duration_seconds_sum{operation="sleep"} 0.4
"""

# 0.17.0 after sleep?level=0: awake=0 and neither level flag (docs/vllm-behaviour.md §7).
V0_17_LEVEL_0_STATE = """\
vllm:num_requests_running{engine="0",model_name="m"} 0.0
vllm:num_requests_waiting{engine="0",model_name="m"} 0.0
vllm:engine_sleep_state{engine="0",model_name="m",sleep_state="awake"} 0.0
vllm:engine_sleep_state{engine="0",model_name="m",sleep_state="weights_offloaded"} 0.0
vllm:engine_sleep_state{engine="0",model_name="m",sleep_state="discard_all"} 0.0
"""

RECORDED = [V0_9, V0_11_0, V0_17_LEVEL_1, V0_33_DP2_LEVEL_2, V0_17_LEVEL_0_STATE]


def test_0_9_reads_kv_cache_usage_from_the_old_gauge_name() -> None:
    metrics = parse_metrics(V0_9)

    assert (metrics.running, metrics.waiting, metrics.kv_cache_usage) == (3, 1, 0.25)


def test_0_9_has_no_sleep_state() -> None:
    assert parse_metrics(V0_9).sleep_state is None


def test_ttft_histogram_keeps_cumulative_buckets_sum_and_count() -> None:
    ttft = parse_metrics(V0_9).ttft

    assert ttft is not None
    assert ttft.buckets == ((0.01, 2.0), (0.1, 6.0), (1.0, 10.0), (math.inf, 10.0))
    assert (ttft.sum, ttft.count) == (0.9, 10.0)


def test_0_11_reads_the_renamed_kv_cache_gauge_and_e2e_latency() -> None:
    metrics = parse_metrics(V0_11_0)

    assert metrics.kv_cache_usage == 0.5
    assert metrics.e2e_latency is not None
    assert metrics.e2e_latency.count == 4.0
    assert metrics.ttft is None


def test_level_1_sleep_state_is_weights_offloaded() -> None:
    assert parse_metrics(V0_17_LEVEL_1).sleep_state is SleepState.WEIGHTS_OFFLOADED


def test_level_2_sleep_state_is_discard_all() -> None:
    assert parse_metrics(V0_33_DP2_LEVEL_2).sleep_state is SleepState.DISCARD_ALL


def test_level_0_sleep_state_is_asleep_without_a_level_flag() -> None:
    assert parse_metrics(V0_17_LEVEL_0_STATE).sleep_state is SleepState.ASLEEP_OTHER


def test_data_parallel_engines_are_summed_and_kv_usage_averaged() -> None:
    metrics = parse_metrics(V0_33_DP2_LEVEL_2)

    assert (metrics.running, metrics.waiting) == (3, 5)
    assert metrics.kv_cache_usage == pytest.approx(0.4)


def test_data_parallel_histograms_are_summed_per_bucket() -> None:
    ttft = parse_metrics(V0_33_DP2_LEVEL_2).ttft

    assert ttft is not None
    assert ttft.buckets == ((0.1, 4.0), (math.inf, 5.0))
    assert ttft.count == 5.0


def test_a_page_without_vllm_gauges_is_refused() -> None:
    with pytest.raises(MetricsParseError, match="num_requests_running missing"):
        parse_metrics("# TYPE python_info gauge\npython_info 1.0\n")


def test_a_line_cut_mid_label_is_refused() -> None:
    cut = V0_11_0[: V0_11_0.index('model_name="qwen"} 0.5') + 8]

    with pytest.raises(MetricsParseError):
        parse_metrics(cut)


def test_a_histogram_cut_before_its_inf_bucket_is_refused() -> None:
    cut = V0_9[: V0_9.index('vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf"')]

    with pytest.raises(MetricsParseError, match="no \\+Inf bucket"):
        parse_metrics(cut)


def test_a_histogram_whose_count_disagrees_with_its_buckets_is_refused() -> None:
    broken = V0_9.replace('_count{engine="0",model_name="facebook/opt-125m"} 10.0', "_count 11.0")

    with pytest.raises(MetricsParseError, match="differs from the \\+Inf bucket"):
        parse_metrics(broken)


def test_non_cumulative_buckets_are_refused() -> None:
    broken = V0_9.replace('le="0.1",model_name="facebook/opt-125m"} 6.0', 'le="0.1"} 1.0')

    with pytest.raises(MetricsParseError, match="not cumulative"):
        parse_metrics(broken)


def test_parse_error_is_an_engine_error_that_is_not_retryable() -> None:
    with pytest.raises(EngineError) as caught:
        parse_metrics("vllm:num_requests_running{ 1")

    assert isinstance(caught.value, MetricsParseError)
    assert not caught.value.retryable


def _parses_or_refuses(text: str) -> None:
    try:
        result = parse_metrics(text)
    except MetricsParseError:
        return
    assert isinstance(result, EngineMetrics)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_random_text_parses_or_raises_metrics_parse_error(text: str) -> None:
    _parses_or_refuses(text)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(RECORDED),
    st.integers(min_value=0),
    st.integers(min_value=0),
    st.text(alphabet='{}",=\\\n #+-.:_eEIn0123456789aluf\t', max_size=8),
)
def test_mangled_recorded_pages_parse_or_raise_metrics_parse_error(
    page: str, cut: int, splice: int, noise: str
) -> None:
    truncated = page[: cut % (len(page) + 1)]
    at = splice % (len(truncated) + 1)
    _parses_or_refuses(truncated[:at] + noise + truncated[at:])
