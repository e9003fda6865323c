// The job detail page: rendered whole by the server; while it is open, a change of the
// job's row (its state, its figures, its evidence arriving) reloads it, so the steps and
// the log excerpt shown are always those of the row as it stands.

import { connect, field, pageConfig } from "./live.js";

const config = pageConfig("job-config");
const shown = config.job;

function differs(job) {
  return Object.keys(shown).some((key) => JSON.stringify(job[key]) !== JSON.stringify(shown[key]));
}

function onJob(job) {
  if (job.id === shown.id && differs(job)) location.reload();
}

const HANDLERS = {
  snapshot: (snapshot) => snapshot.jobs.forEach(onJob),
  "job.update": onJob,
};

connect(config.socket, (event) => HANDLERS[event.type]?.(event), field(document, "live"));
