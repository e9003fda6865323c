// The instance page's "Operate with options" form (partials/job_options.html): the action
// API's options (a sleep or a switch at a level, a partial wake, a switch's own list of
// instances to put to sleep, queueing behind a running job) without a shell. The answer
// (the new job, linked, or why it was refused) goes to the form's role="status" element.

import { postJSON } from "./live.js";

const BOTH_PARTS = 2;

/** The request body of `action` as the form's fields ask for it. */
function requestBody(form, action) {
  const body = { queue: form.elements.queue.checked };
  if (action === "sleep" || action === "switch") body.level = Number(form.elements.level.value);
  if (action === "wake") {
    const parts = [...form.querySelectorAll('input[name="tags"]:checked')].map((box) => box.value);
    // Both parts is vLLM's full wake: asked without tags, as the Wake button does.
    if (parts.length !== BOTH_PARTS) body.tags = parts;
  }
  if (action === "switch") {
    const chosen = [...form.elements.sleep.selectedOptions].map((option) => Number(option.value));
    // None chosen: the console picks whoever stands in the way.
    if (chosen.length) body.sleep = chosen;
  }
  return body;
}

function jobLink(id, text) {
  const link = document.createElement("a");
  link.href = `/jobs/${id}/`;
  link.textContent = text;
  return link;
}

/** A 400's field errors in words: "tags: This list may not be empty." */
function fieldErrors(data) {
  return Object.entries(data)
    .map(([name, errors]) => `${name}: ${[].concat(errors).join(" ")}`)
    .join("; ");
}

/** Show the API's answer: the job asked for, or the refusal with the job in the way. */
function showAnswer(answer, status, data) {
  answer.replaceChildren();
  answer.dataset.status = String(status);
  if (status === 202) {
    answer.append("Asked: ", jobLink(data.id, `job ${data.id}`), ` (${data.kind}, ${data.state})`);
  } else if (status === 400) {
    answer.append(`Refused: ${fieldErrors(data)}`);
  } else {
    answer.append(`Refused: ${data.detail || `HTTP ${status}`}`);
    if (data.job) answer.append(" (", jobLink(data.job, `job ${data.job}`), ")");
  }
}

/** Show only the fields of the chosen action (data-for lists the actions a field serves). */
function showFieldsOf(form, action) {
  for (const element of form.querySelectorAll("[data-for]")) {
    element.hidden = !element.dataset.for.split(" ").includes(action);
  }
}

/** Bind the form, when the page has one (operators and admins only). */
export function bindJobOptions(form, answer, onJob) {
  if (!form) return;
  const action = form.elements.action;
  action.addEventListener("change", () => showFieldsOf(form, action.value));
  showFieldsOf(form, action.value);
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const url = `/api/instances/${form.dataset.instance}/${action.value}/`;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const { status, data } = await postJSON(url, requestBody(form, action.value));
      showAnswer(answer, status, data);
      if (status === 202) onJob(data);
    } catch (error) {
      answer.textContent = `Request failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
}
