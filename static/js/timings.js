// The sleep/wake timings chart and the request latency chart, from the history API:
// shared by the instance page and the history page.

import { columns, formats, timeChart } from "./charts.js";
import { getJSON } from "./live.js";

export function timingsChart(container, span = null) {
  return timeChart(
    container,
    [
      { label: "sleep (engine)", dots: true },
      { label: "wake (engine)", dots: true },
      { label: "first request after wake", dots: true },
      { label: "wake efficiency", dots: true, scale: "pct", format: formats.pct },
    ],
    { pct: formats.pct },
    span,
  );
}

export function latencyChart(container, span = null) {
  return timeChart(
    container,
    [{ label: "TTFT p50" }, { label: "TTFT p95" }, { label: "e2e p50" }, { label: "e2e p95" }],
    {},
    span,
  );
}

// One point per finished job; efficiency is bytes moved / (seconds x link bandwidth).
function timingRow(timing) {
  const sleep = timing.kind === "sleep" ? timing.engine_seconds : null;
  const wake = timing.kind === "wake" ? timing.engine_seconds : null;
  const efficiency = timing.wake_efficiency == null ? null : timing.wake_efficiency * 100;
  return [Date.parse(timing.at) / 1000, sleep, wake, timing.first_request_seconds, efficiency];
}

/** GET /api/history/timings/... into `chart`. */
export async function loadTimings(chart, url) {
  const data = await getJSON(url);
  if (data === null) {
    chart.explain("Timing history is not available.");
    return;
  }
  chart.setData(columns(data.timings.map(timingRow), 5));
  if (!data.timings.length) chart.explain("No sleep or wake finished in this range.");
}

/** GET /api/history/latency/... into `chart` (its note says why when there is nothing). */
export async function loadLatency(chart, url) {
  const data = await getJSON(url);
  if (data === null) {
    chart.explain("Latency history is not available.");
    return;
  }
  chart.setData(columns(data.points, 5));
  if (!data.points.length) chart.explain(`No request latency: ${data.note}.`);
}
