// The Keys page: tokens (prompt + completion) per hour of each key over the last 7 days,
// one line per key, from /api/usage/ (the rows /api/usage.csv downloads).

import { columns, formats, timeChart } from "./charts.js";
import { getJSON, pageConfig } from "./live.js";

const config = pageConfig("keys-config");

/** Rows [period, key_id, key, model, counts...] as one point per hour, a column per key. */
function tokensPerHour(data) {
  const field = (name) => data.fields.indexOf(name);
  const [period, id, name] = [field("period"), field("key_id"), field("key")];
  const [prompt, completion] = [field("prompt_tokens"), field("completion_tokens")];
  const keys = [...new Map(data.rows.map((row) => [row[id], row[name]])).entries()];
  const hours = new Map();
  for (const row of data.rows) {
    const at = Date.parse(row[period]) / 1000;
    const point = hours.get(at) || [at, ...keys.map(() => 0)];
    point[1 + keys.findIndex(([key]) => key === row[id])] += row[prompt] + row[completion];
    hours.set(at, point);
  }
  const points = [...hours.values()].sort((a, b) => a[0] - b[0]);
  return { keys, points };
}

async function loadUsage(container) {
  const data = await getJSON(config.usage);
  const { keys, points } = data ? tokensPerHour(data) : { keys: [], points: [] };
  const series = keys.length
    ? keys.map(([, name]) => ({ label: name, format: formats.count }))
    : [{ label: "tokens", format: formats.count }];
  const chart = timeChart(container, series, {}, config.span);
  chart.setData(columns(points, series.length + 1));
  if (data === null) chart.explain("Usage is not available.");
  else if (!points.length) chart.explain("No key used any token in the last 7 days.");
}

const container = document.getElementById("usage-chart");
if (container && config.usage) loadUsage(container);
