// Charts on uPlot (vendored, static/vendor/uplot-1.6.31). A chart container is
// partials/chart.html: a plot area and a message shown while there is nothing to draw.

import uPlot from "../vendor/uplot-1.6.31/uPlot.esm.js";

const HEIGHT = 240;
const COLORS = ["#2f6fde", "#1f8a4c", "#b7791f", "#6a55c9", "#c23b3b", "#0e8a8a"];
const GIB = 1024 ** 3;

export const formats = {
  gib: (v) => `${(v / GIB).toFixed(1)} GiB`,
  seconds: (v) => `${v.toFixed(2)} s`,
  pct: (v) => `${v.toFixed(0)} %`,
  count: (v) => `${Math.round(v)}`,
};

function seriesOptions(spec, index) {
  const format = spec.format || formats.seconds;
  return {
    label: spec.label,
    scale: spec.scale || "y",
    stroke: COLORS[index % COLORS.length],
    width: 2,
    spanGaps: false,
    value: (plot, value) => (value == null ? "—" : format(value)),
    // Events (one point per job) read better as dots than as a line between jobs.
    ...(spec.dots ? { paths: () => null, points: { show: true, size: 7 } } : {}),
  };
}

function axis(scale, format, side) {
  return {
    scale,
    side,
    size: 70,
    values: (plot, values) => values.map((value) => (value == null ? "" : format(value))),
  };
}

const LONE_POINT_MARGIN = 60;

// uPlot widens an x scale whose data span no time (one point, or one instant) by orders
// of magnitude: one day's single job was drawn from Apr 2027 to Aug 2029. The x scale is
// the chosen span when there is one, else the data's, a minute either side of a lone instant.
function xRange(span) {
  return (plot, min, max) => {
    if (span) return [span.start, span.end];
    if (min == null || max == null) {
      const now = Date.now() / 1000;
      return [now - 3600, now];
    }
    return min === max ? [min - LONE_POINT_MARGIN, max + LONE_POINT_MARGIN] : [min, max];
  };
}

/**
 * A time chart in `container` with one y series per entry of `series`
 * ({label, format, scale?, dots?}); `scales` maps a second scale to its format;
 * `span` ({start, end} in epoch seconds) fixes the x axis to the range asked for.
 */
export function timeChart(container, series, scales = {}, span = null) {
  const plotArea = container.querySelector('[data-field="plot"]');
  const message = container.querySelector('[data-field="message"]');
  const first = series[0].format || formats.seconds;
  const axes = [{}, axis("y", first, 3)];
  for (const [scale, format] of Object.entries(scales)) axes.push(axis(scale, format, 1));
  const options = {
    width: plotArea.clientWidth || 600,
    height: HEIGHT,
    series: [{}, ...series.map(seriesOptions)],
    axes,
    scales: { x: { time: true, range: xRange(span) } },
    hooks: {
      // The x scale's bounds, for tests and for anyone reading the page's markup.
      setScale: [
        (plot, key) => {
          if (key !== "x") return;
          container.dataset.xMin = String(plot.scales.x.min);
          container.dataset.xMax = String(plot.scales.x.max);
        },
      ],
    },
  };
  let data = [[], ...series.map(() => [])];
  const plot = new uPlot(options, data, plotArea);
  const resize = () => plot.setSize({ width: plotArea.clientWidth, height: HEIGHT });
  new ResizeObserver(resize).observe(plotArea);
  const show = () => {
    container.dataset.points = String(data[0].length);
    message.hidden = data[0].length > 0;
  };
  show();
  return {
    /** Replace every point: columns = [xs, ys1, ys2, ...] (x in epoch seconds). */
    setData(columns) {
      data = columns;
      plot.setData(data);
      show();
    },
    /** Add one point at the end, keeping at most `keep` points. */
    append(x, values, keep) {
      if (data[0].length && x <= data[0][data[0].length - 1]) return; // uPlot needs x rising
      data = data.map((column, i) => [...column, i === 0 ? x : values[i - 1]].slice(-keep));
      plot.setData(data);
      show();
    },
    /** Say why the chart is empty (an endpoint missing, no data in the range). */
    explain(text) {
      message.textContent = text;
      show();
    },
  };
}

/** [[t, a, b, ...], ...] rows as uPlot's columns [[t...], [a...], [b...]]. */
export function columns(rows, width) {
  const result = Array.from({ length: width }, () => []);
  for (const row of rows) {
    for (let i = 0; i < width; i += 1) result[i].push(row[i] ?? null);
  }
  return result;
}
