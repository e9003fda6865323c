// The instance page: its row and buttons, a live memory chart, sleep/wake timings,
// request latency, jobs, parsed engine events and the live log tail, all from
// /ws/instances/<id>/ (after its snapshot) and the history API.

import { columns, formats, timeChart } from "./charts.js";
import { bindJobOptions } from "./job_options.js";
import {
  cloneTemplate,
  connect,
  field,
  getJSON,
  pageConfig,
  plain,
  seconds,
  setText,
  tickSince,
  timestamp,
} from "./live.js";
import {
  applyInstance,
  applyJob,
  bindActions,
  bindCancel,
  isStale,
  jobText,
  syncCancel,
} from "./rows.js";
import { latencyChart, loadLatency, loadTimings, timingsChart } from "./timings.js";

const config = pageConfig("instance-config");
const row = document.getElementById(`instance-${config.instance_id}`);
const gpuIds = new Set(config.gpu_ids);
const LIVE_POINTS = 900;
const LOG_LINES = 500;
const EVENTS_SHOWN = 100;
const MINUTE = 60;
const DAY = 86400;

const memory = timeChart(document.getElementById("memory-chart"), [
  { label: "GPU used", format: formats.gib },
  { label: `held by ${config.name}`, format: formats.gib },
  { label: "host RSS", format: formats.gib },
]);
const timings = timingsChart(document.getElementById("timings-chart"));
const latency = latencyChart(document.getElementById("latency-chart"));

function span(seconds) {
  const end = new Date();
  const start = new Date(end.getTime() - seconds * 1000);
  const iso = (date) => encodeURIComponent(date.toISOString());
  return `start=${iso(start)}&end=${iso(end)}`;
}

// --- memory: seeded from history, then one point per sample of the instance's GPU ---

const latest = { gpu: new Map(), held: new Map(), rss: null };
const sum = (values) => [...values].reduce((total, value) => total + value, 0);

// Several samples may share an epoch second (the API's time unit): the last one counts.
const byTime = (answer) => new Map(answer.points.map(([t, avg]) => [t, avg]));

async function seedMemory() {
  const query = span(15 * MINUTE);
  const urls = [...gpuIds].map((id) => `/api/history/memory/?subject=gpu&id=${id}&${query}`);
  urls.push(`/api/history/memory/?subject=instance&id=${config.instance_id}&${query}`);
  const answers = await Promise.all(urls.map(getJSON));
  if (answers.some((answer) => answer === null)) {
    memory.explain("No memory history yet: live samples will appear here.");
    return;
  }
  const rss = byTime(answers.pop());
  const gpus = answers.map(byTime);
  const times = new Set([...rss.keys(), ...gpus.flatMap((gpu) => [...gpu.keys()])]);
  const rows = [...times]
    .sort((a, b) => a - b)
    .slice(-LIVE_POINTS)
    .map((t) => [
      t,
      gpus.every((gpu) => gpu.has(t)) ? sum(gpus.map((gpu) => gpu.get(t))) : null,
      null,
      rss.get(t) ?? null,
    ]);
  memory.setData(columns(rows, 4));
}

function onGpuSample(sample) {
  if (!gpuIds.has(sample.gpu_id)) return;
  latest.gpu.set(sample.gpu_id, sample.used_bytes);
  latest.held.set(sample.gpu_id, sample.by_instance[config.name] || 0);
  // One point per sampling tick: the tick's first GPU of this instance drives it.
  if (sample.gpu_id !== Math.min(...gpuIds)) return;
  const at = Date.parse(sample.at) / 1000;
  const values = [sum(latest.gpu.values()), sum(latest.held.values()), latest.rss];
  memory.append(at, values, LIVE_POINTS);
}

function onHostSample(sample) {
  if (sample.host_id !== config.host_id) return;
  latest.rss = sample.instance_rss[config.name] ?? null;
}

// --- timings and latency: from the history API, refreshed when a job finishes ---

const refreshTimings = () =>
  loadTimings(timings, `/api/history/timings/?instance=${config.instance_id}&${span(90 * DAY)}`);
const refreshLatency = () =>
  loadLatency(latency, `/api/history/latency/?instance=${config.instance_id}&${span(DAY)}`);

// --- jobs, events, log ---

const jobsBody = document.querySelector("#jobs tbody");
const eventsBody = document.querySelector("#events tbody");
const logTail = document.getElementById("log-tail");
const logLines = [];

function onJob(job) {
  if (job.instance !== config.instance_id) return;
  applyJob(row, job);
  let jobRow = document.getElementById(`job-${job.id}`);
  if (!jobRow) {
    jobRow = cloneTemplate("job-row-template");
    jobRow.id = `job-${job.id}`;
    jobRow.dataset.job = String(job.id);
    field(jobRow, "detail").href = `/jobs/${job.id}/`;
    const created = new Date(job.created_at);
    setText(jobRow, "created", timestamp(created)).dateTime = job.created_at;
    setText(jobRow, "by", job.author);
    jobsBody.prepend(jobRow);
    document.getElementById("no-jobs")?.remove();
  }
  if (isStale(jobRow, job)) return;
  const before = field(jobRow, "state").textContent;
  setText(jobRow, "kind", job.params?.level ? `${job.kind} L${job.params.level}` : job.kind);
  setText(jobRow, "state", job.state);
  jobRow.dataset.state = job.state;
  setText(jobRow, "engine", seconds(job.engine_seconds));
  setText(jobRow, "wall", seconds(job.wall_seconds));
  setText(jobRow, "freed", job.freed_gib == null ? "" : `${job.freed_gib.toFixed(1)} GiB`);
  setText(jobRow, "first", seconds(job.first_request_seconds));
  setText(jobRow, "outcome", job.error || jobText(job));
  syncCancel(jobRow, job);
  // A job seen finishing now (not one listed by a snapshot) adds a point to the timings.
  if (job.state === "succeeded" && before && before !== "succeeded") refreshTimings();
}

function onEngineEvent(event) {
  if (event.instance_id !== config.instance_id) return;
  const eventRow = cloneTemplate("event-row-template");
  setText(eventRow, "at", timestamp(new Date(event.at))).dateTime = event.at;
  setText(eventRow, "kind", event.kind);
  setText(eventRow, "seconds", seconds(event.seconds));
  setText(eventRow, "freed", event.freed_gib == null ? "" : `${event.freed_gib.toFixed(2)} GiB`);
  setText(eventRow, "message", plain(event.message));
  eventsBody.prepend(eventRow);
  document.getElementById("no-events")?.remove();
  while (eventsBody.rows.length > EVENTS_SHOWN) eventsBody.lastElementChild.remove();
}

function onLogLine(event) {
  if (event.instance_id !== config.instance_id) return;
  const atBottom = logTail.scrollTop + logTail.clientHeight >= logTail.scrollHeight - 4;
  logLines.push(plain(event.line));
  if (logLines.length > LOG_LINES) logLines.splice(0, logLines.length - LOG_LINES);
  logTail.textContent = logLines.join("\n");
  if (atBottom) logTail.scrollTop = logTail.scrollHeight;
}

function onSnapshot(snapshot) {
  for (const instance of snapshot.instances) applyInstance(row, instance);
  [...snapshot.jobs].sort((a, b) => a.id - b.id).forEach(onJob);
}

const HANDLERS = {
  snapshot: onSnapshot,
  "gpu.sample": onGpuSample,
  "host.sample": onHostSample,
  "instance.state": (event) => {
    if (event.instance_id === config.instance_id) applyInstance(row, event);
  },
  "job.update": onJob,
  "engine.event": onEngineEvent,
  "log.line": onLogLine,
};

function onCancelRefused(jobRow, detail) {
  setText(jobRow, "outcome", detail);
  const button = jobRow.querySelector("button[data-cancel]");
  if (button) button.disabled = false;
}

bindActions(row, onJob);
bindCancel(jobsBody, onJob, onCancelRefused);
bindJobOptions(
  document.getElementById("job-options-form"),
  document.getElementById("job-options-answer"),
  onJob,
);
seedMemory().then(() =>
  connect(config.socket, (event) => HANDLERS[event.type]?.(event), field(document, "live")),
);
refreshTimings();
refreshLatency();
setInterval(refreshLatency, MINUTE * 1000);
tickSince(document);
