// The history page: the chosen subject's memory over the chosen range (the API picks raw,
// 1-minute or 1-hour samples so that at most ~2,000 points come) and, for an instance,
// its sleep/wake timings and request latency over the same range.

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
}

// Changing a choice reloads the page: its links (and CSV downloads) are built server-side.
for (const select of document.querySelectorAll("#history-form select")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

if (config.links?.memory) {
  loadMemory(
    timeChart(document.getElementById("history-chart"), [
      { label: "average", format: formats.gib },
      { label: "minimum", format: formats.gib },
      { label: "maximum", format: formats.gib },
    ]),
  );
}
if (config.links?.timings) {
  loadTimings(timingsChart(document.getElementById("timings-chart")), config.links.timings);
  loadLatency(latencyChart(document.getElementById("latency-chart")), config.links.latency);
}
