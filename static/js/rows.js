// Instance rows (partials/instance_row.html): state badge, action buttons, job progress;
// job rows' Cancel buttons (partials/job_row.html). Used by the dashboard and the instance page.

import { cloneTemplate, field, pageConfig, postJSON, seconds, setText } from "./live.js";

const ACTIVE_JOB = new Set(["queued", "running"]);
// The states' words, as the server renders them (console/web/labels.py).
const STATE_LABELS = pageConfig("state-labels");

/** "sleeping · L1": an instance's state in words, with its sleep level. */
export function stateLabel(state, sleepLevel) {
  const label = STATE_LABELS[state] || state;
  return sleepLevel ? `${label} · L${sleepLevel}` : label;
}

/** "GPU 0", "GPUs 0, 1" (a bare "0" under "GPUs" read as "no GPUs"). */
export function gpusText(indexes) {
  if (!indexes || !indexes.length) return "—";
  return `${indexes.length === 1 ? "GPU" : "GPUs"} ${indexes.join(", ")}`;
}

function jobName(job) {
  const name = job.kind;
  return job.params && job.params.level ? `${name} L${job.params.level}` : name;
}

function outcome(job) {
  const parts = [];
  if (job.engine_seconds != null) parts.push(`${seconds(job.engine_seconds)} engine`);
  if (job.engine_seconds == null && job.wall_seconds != null) {
    parts.push(`${seconds(job.wall_seconds)} wall`);
  }
  if (job.freed_gib != null) parts.push(`${job.freed_gib.toFixed(1)} GiB freed`);
  if (job.backed_up_gib) parts.push(`${job.backed_up_gib.toFixed(1)} GiB to host RAM`);
  if (job.first_request_seconds != null) {
    parts.push(`first request ${seconds(job.first_request_seconds)}`);
  }
  return parts.join(", ");
}

/** One line about a job: what, where it is, and its figures or its error. */
export function jobText(job) {
  if (ACTIVE_JOB.has(job.state)) return `${jobName(job)} ${job.state}…`;
  if (job.state === "succeeded") {
    const figures = outcome(job);
    return figures ? `${jobName(job)} done: ${figures}` : `${jobName(job)} done`;
  }
  return job.error ? `${jobName(job)} ${job.state}: ${job.error}` : `${jobName(job)} ${job.state}`;
}

function syncButtons(row) {
  const busy = row.dataset.busy === "1";
  for (const button of row.querySelectorAll("button[data-action]")) {
    button.disabled = busy || !button.dataset.when.split(" ").includes(row.dataset.state);
  }
}

/** Apply an `instance.state` event (or a snapshot's instance) to its row. */
export function applyInstance(row, instance) {
  const changed = row.dataset.state !== instance.state;
  row.dataset.state = instance.state;
  const badge = field(row, "state");
  badge.className = `badge state-${instance.state}`;
  badge.textContent = stateLabel(instance.state, instance.sleep_level);
  badge.title = instance.state_detail || "";
  // Why it is in error, under the badge (rows.py error_detail).
  const why = instance.state === "error" ? instance.state_detail || "" : "";
  const detail = setText(row, "detail", why);
  if (detail) detail.hidden = !why;
  const demo = field(row, "demo");
  if (demo) demo.hidden = !instance.is_demo;
  if (changed) {
    const since = setText(row, "since", "just now");
    since.dateTime = new Date().toISOString();
  }
  syncButtons(row);
}

// queued -> running -> finished: the API's 202 answer can arrive after the job's own
// updates (a fast job), and must not take its row back to "queued".
const STAGE = { queued: 0, running: 1 };
const stage = (state) => (state ? (STAGE[state] ?? 2) : -1); // -1: nothing shown yet

/** True when `job` is older news than what `element` already shows of the same job. */
export function isStale(element, job) {
  const sameJob = element.dataset.job === String(job.id);
  return sameJob && stage(element.dataset.state) > stage(job.state);
}

/** Show a job's progress or outcome on its instance's row. */
export function applyJob(row, job) {
  if (isStale(field(row, "job"), job)) return;
  const status = setText(row, "job", jobText(job));
  status.dataset.state = job.state;
  status.dataset.job = String(job.id);
  status.href = `/jobs/${job.id}/`;
  row.dataset.busy = ACTIVE_JOB.has(job.state) ? "1" : "0";
  syncButtons(row);
}

/** Show a refusal (409) or an error answer on the row. */
export function applyRefusal(row, detail) {
  const status = setText(row, "job", detail);
  status.dataset.state = "refused";
  status.removeAttribute("href");
  row.dataset.busy = "0";
  syncButtons(row);
}

/** A new row from the page's <template>, for an instance created after the page loaded. */
export function newRow(instance) {
  const row = cloneTemplate("instance-row-template");
  row.id = `instance-${instance.id}`;
  row.dataset.instance = String(instance.id);
  const link = setText(row, "name", instance.name);
  link.href = `/instances/${instance.id}/`;
  setText(row, "model", instance.served_model_name);
  setText(row, "host", instance.host || "—");
  setText(row, "gpus", gpusText(instance.gpu_indexes));
  const actions = row.querySelector("[data-actions-for]");
  if (actions) {
    actions.dataset.actionsFor = String(instance.id);
    // Registered by URL without a host: Launch and Stop could only be refused (rows.py).
    if (!instance.host) {
      for (const kind of ["launch", "stop"]) {
        actions.querySelector(`[data-action="${kind}"]`)?.remove();
      }
      field(row, "adopted").hidden = false;
    }
  }
  return row;
}

/** Clicks on action buttons inside `container` POST to the action API. */
export function bindActions(container, onJob) {
  container.addEventListener("click", async (click) => {
    const button = click.target.closest("button[data-action]");
    if (!button) return;
    const row = button.closest("[data-instance]");
    row.dataset.busy = "1";
    syncButtons(row);
    const id = row.dataset.instance;
    const url = `/api/instances/${id}/${button.dataset.action}/`;
    try {
      const { status, data } = await postJSON(url, JSON.parse(button.dataset.body));
      if (status === 202) onJob(data);
      else applyRefusal(row, data.detail || `HTTP ${status}`);
    } catch (error) {
      applyRefusal(row, `request failed: ${error.message}`);
    }
  });
}

/** A job row's Cancel button: shown while the job waits in the queue, hidden after. */
export function syncCancel(jobRow, job) {
  const button = jobRow.querySelector("button[data-cancel]");
  if (!button) return;
  button.hidden = job.state !== "queued";
  button.disabled = false;
}

/**
 * Clicks on Cancel buttons inside `container` POST to the job's cancel API; the answer's
 * job goes to `onJob`, a refusal (409: a worker took it meanwhile) to `onRefused`.
 */
export function bindCancel(container, onJob, onRefused) {
  container.addEventListener("click", async (click) => {
    const button = click.target.closest("button[data-cancel]");
    if (!button) return;
    const jobRow = button.closest("[data-job]");
    button.disabled = true;
    try {
      const { status, data } = await postJSON(`/api/jobs/${jobRow.dataset.job}/cancel/`, {});
      if (status === 200) onJob(data);
      else onRefused(jobRow, data.detail || `HTTP ${status}`);
    } catch (error) {
      onRefused(jobRow, `request failed: ${error.message}`);
    }
  });
}
