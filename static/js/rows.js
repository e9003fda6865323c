// Instance rows (partials/instance_row.html): state badge, action buttons, job progress;
// job rows' Cancel buttons (partials/job_row.html). Used by the dashboard and the instance page.

import { cloneTemplate, field, postJSON, seconds, setText } from "./live.js";

const ACTIVE_JOB = new Set(["queued", "running"]);
const KIND_LABEL = { switch: "activate" };

/** A job from the action API's 202 answer in the shape of a `job.update` event. */
export function jobFromApi(data) {
  return {
    job_id: data.id,
    instance_id: data.instance,
    kind: data.kind,
    state: data.state,
    params: data.params || {},
    engine_seconds: data.engine_seconds,
    wall_seconds: data.wall_seconds,
    freed_gib: data.freed_gib,
    backed_up_gib: data.backed_up_gib,
    first_request_seconds: data.first_request_seconds,
    error: data.error || "",
  };
}

function jobName(job) {
  const name = KIND_LABEL[job.kind] || job.kind;
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
  badge.textContent = instance.sleep_level
    ? `${instance.state} · L${instance.sleep_level}`
    : instance.state;
  badge.title = instance.state_detail || "";
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
  const sameJob = element.dataset.job === String(job.job_id);
  return sameJob && stage(element.dataset.state) > stage(job.state);
}

/** Show a job's progress or outcome on its instance's row. */
export function applyJob(row, job) {
  if (isStale(field(row, "job"), job)) return;
  const status = setText(row, "job", jobText(job));
  status.dataset.state = job.state;
  status.dataset.job = String(job.job_id);
  row.dataset.busy = ACTIVE_JOB.has(job.state) ? "1" : "0";
  syncButtons(row);
}

/** Show a refusal (409) or an error answer on the row. */
export function applyRefusal(row, detail) {
  const status = setText(row, "job", detail);
  status.dataset.state = "refused";
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
  setText(row, "gpus", (instance.gpu_indexes || []).join(", ") || "—");
  const actions = row.querySelector("[data-actions-for]");
  if (actions) actions.dataset.actionsFor = String(instance.id);
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
      if (status === 202) onJob(jobFromApi(data));
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
      if (status === 200) onJob(jobFromApi(data));
      else onRefused(jobRow, data.detail || `HTTP ${status}`);
    } catch (error) {
      onRefused(jobRow, `request failed: ${error.message}`);
    }
  });
}
