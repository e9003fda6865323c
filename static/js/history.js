// The history page: the chosen subject's memory over the chosen range (the API picks raw,
// 1-minute or 1-hour samples so that at most ~2,000 points come), the gateway's figures
// and, for an instance, its sleep/wake timings and request latency over the same range.
// Every chart's x axis is the chosen range (config.span), however few its points.

import { columns, formats, timeChart } from "./charts.js";
import { getJSON, pageConfig } from "./live.js";
import { latencyChart, loadLatency, loadTimings, timingsChart } from "./timings.js";

const config = pageConfig("history-config");

async function loadMemory(chart) {
  const data = await getJSON(config.links.memory);
  if (data === null) {
    chart.explain("Memory history is not available.");
    return;
  }
  chart.setData(columns(data.points, 4));
  document.querySelector('[data-field="resolution"]').textContent = data.resolution;
  if (!data.points.length) chart.explain(`No samples of ${config.label} in this range.`);
  if (data.held_by) showHeldBy(data.held_by);
  if (data.gpu_points) showHeldBy({ names: ["on its GPUs"], points: data.gpu_points });
}

// A GPU's memory by who held it, one line per instance (and other processes), or what an
// instance held on its GPUs: the series are known only once the data has come.
function showHeldBy(heldBy) {
  const container = document.getElementById("held-chart");
  const series = heldBy.names.map((name) => ({
    label: name === "other" ? "other processes" : name,
    format: formats.gib,
  }));
  if (!series.length) {
    container.querySelector('[data-field="message"]').textContent =
      "Nothing held memory on this GPU in this range.";
    return;
  }
  const chart = timeChart(container, series, {}, config.span);
  chart.setData(columns(heldBy.points, series.length + 1));
  if (!heldBy.points.length) chart.explain("No GPU memory held in this range.");
}

// Counts per minute (or hour) on the left axis, seconds spent held on the right.
const GATEWAY_SERIES = [
  { field: "requests", label: "requests", format: formats.count },
  { field: "errors", label: "errors", format: formats.count },
  { field: "held", label: "held requests", format: formats.count },
  { field: "wakes_on_request", label: "wakes on request", format: formats.count },
  { field: "rejected", label: "rejected (503)", format: formats.count },
  { field: "held_seconds", label: "seconds held", scale: "s", format: formats.seconds },
];

async function loadGateway(chart) {
  const data = await getJSON(config.links.gateway);
  if (data === null) {
    chart.explain("Gateway history is not available.");
    return;
  }
  const index = GATEWAY_SERIES.map((spec) => data.fields.indexOf(spec.field));
  const rows = data.points.map((point) => [point[0], ...index.map((i) => point[i])]);
  chart.setData(columns(rows, GATEWAY_SERIES.length + 1));
  if (!data.points.length) chart.explain("No request went through the gateway in this range.");
}

// Changing a choice reloads the page: its links (and CSV downloads) are built server-side.
for (const select of document.querySelectorAll("#history-form select")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

const MEMORY_SERIES = [
  { label: "average", format: formats.gib },
  { label: "minimum", format: formats.gib },
  { label: "maximum", format: formats.gib },
];

if (config.links?.memory) {
  const chart = document.getElementById("history-chart");
  loadMemory(timeChart(chart, MEMORY_SERIES, {}, config.span));
}
if (config.links?.gateway) {
  const chart = document.getElementById("gateway-chart");
  loadGateway(timeChart(chart, GATEWAY_SERIES, { s: formats.seconds }, config.span));
}
if (config.links?.timings) {
  const timings = timingsChart(document.getElementById("timings-chart"), config.span);
  loadTimings(timings, config.links.timings);
  const latency = latencyChart(document.getElementById("latency-chart"), config.span);
  loadLatency(latency, config.links.latency);
}
