// The dashboard: applies the snapshot, then every event from /ws/console/, to the
// server-rendered hosts, bars and instance rows (partials cloned from <template>s).

import { drawBar, gpuSegments, hostSegments } from "./bars.js";
import { connect, field, pageConfig, tickSince } from "./live.js";
import { applyInstance, applyJob, bindActions, newRow } from "./rows.js";

const config = pageConfig("dashboard-config");
const tbody = document.querySelector("#instances tbody");
const byId = new Map();
const byName = new Map();

function remember(instance) {
  const known = byId.get(instance.id) || {};
  const merged = { ...known, ...instance };
  byId.set(merged.id, merged);
  byName.set(merged.name, merged);
  return merged;
}

function addRow(row) {
  tbody.append(row);
  document.getElementById("no-instances")?.remove();
}

function rowFor(instance) {
  let row = document.getElementById(`instance-${instance.id}`);
  if (!row && instance.served_model_name !== undefined) {
    row = newRow(instance);
    addRow(row);
  }
  return row;
}

// The server renders what pages show; a fresh copy of the page brings what a live event
// leaves out (a new instance's model and host, a new host's card). One fetch at a time.
let fetching = null;

function freshPage() {
  fetching ??= fetch(window.location.pathname, { headers: { Accept: "text/html" } })
    .then((response) => (response.ok ? response.text() : ""))
    .then((html) => new DOMParser().parseFromString(html, "text/html"))
    .finally(() => {
      fetching = null;
    });
  return fetching;
}

/** An instance the page has not seen, from a state event alone: its row comes from the
 * server, then takes the newest state known. */
async function adoptRow(id) {
  const row = (await freshPage()).getElementById(`instance-${id}`);
  if (!row || document.getElementById(`instance-${id}`)) return;
  addRow(document.adoptNode(row));
  applyInstance(row, byId.get(id));
}

function onInstance(instance) {
  const merged = remember(instance);
  const row = rowFor(merged);
  if (row) applyInstance(row, merged);
  else adoptRow(merged.id);
}

function onJob(job) {
  const row = document.getElementById(`instance-${job.instance}`);
  if (row) applyJob(row, job);
}

// Host cards are rendered by the server (partials/host_card.html): one that appeared after
// the page loaded (a new agent, a GPU it found) is fetched with the page and swapped in.
const REFRESH_HOSTS_MS = 5000;
let hostsRefreshedAt = -Infinity;

async function refreshHosts() {
  if (performance.now() - hostsRefreshedAt < REFRESH_HOSTS_MS) return;
  hostsRefreshedAt = performance.now();
  const fresh = (await freshPage()).getElementById("host-cards");
  if (fresh) document.getElementById("host-cards").replaceWith(document.adoptNode(fresh));
}

function onSnapshot(snapshot) {
  const ids = new Set(snapshot.instances.map((instance) => instance.id));
  for (const row of tbody.querySelectorAll("tr[data-instance]")) {
    if (!ids.has(Number(row.dataset.instance))) row.remove();
  }
  const gpuIndex = new Map(snapshot.gpus.map((gpu) => [gpu.id, gpu.index]));
  for (const instance of snapshot.instances) {
    onInstance({ ...instance, gpu_indexes: instance.gpu_ids.map((id) => gpuIndex.get(id)) });
  }
  const jobs = [...snapshot.jobs].sort((a, b) => a.id - b.id);
  jobs.forEach(onJob);
  const shown = (selector) => document.querySelector(selector) !== null;
  if (!snapshot.hosts.every((host) => shown(`#host-${host.id}`))
      || !snapshot.gpus.every((gpu) => shown(`[data-bar="gpu-${gpu.id}"]`))) {
    refreshHosts();
  }
  for (const host of snapshot.hosts) {
    const badge = document.querySelector(`#host-${host.id} [data-field="online"]`);
    if (!badge) continue;
    badge.className = `badge ${host.online ? "state-awake" : "state-stopped"}`;
    badge.textContent = host.online ? "online" : "offline";
  }
}

function onGpuSample(sample) {
  const bar = document.querySelector(`[data-bar="gpu-${sample.gpu_id}"]`);
  if (!bar) {
    refreshHosts();
    return;
  }
  const segments = gpuSegments(sample.by_instance, sample.used_bytes, byName);
  drawBar(bar, sample.used_bytes, sample.total_bytes, segments);
}

function onHostSample(sample) {
  const bar = document.querySelector(`[data-bar="host-${sample.host_id}"]`);
  if (!bar) {
    refreshHosts();
    return;
  }
  const segments = hostSegments(sample.instance_rss, sample.used_bytes, byName);
  drawBar(bar, sample.used_bytes, sample.total_bytes, segments);
}

const HANDLERS = {
  snapshot: onSnapshot,
  "gpu.sample": onGpuSample,
  "host.sample": onHostSample,
  "instance.state": (event) => onInstance({ ...event, id: event.instance_id }),
  "job.update": onJob,
};

bindActions(tbody, onJob);
tickSince(tbody);
connect(config.socket, (event) => HANDLERS[event.type]?.(event), field(document, "live"));
