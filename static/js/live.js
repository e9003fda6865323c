// Shared by the pages: the live socket (reconnecting by itself), CSRF-protected JSON
// calls, and the few DOM helpers that fill the partials' <template> clones. Data is only
// ever written with textContent or attributes, never parsed as HTML.

const GIB = 1024 ** 3;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30000;

// Close codes of the console's consumers: 4401 signed out, 4403 role withdrawn.
const SIGNED_OUT = 4401;
const FORBIDDEN = 4403;

/** The JSON a template passed with json_script. */
export function pageConfig(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

/**
 * Keep a websocket open on `path`, handing every parsed message to `onEvent`.
 * After a server or Redis restart the socket closes; it reopens with exponential backoff
 * (with jitter, so a hundred browsers do not come back in the same millisecond). Each
 * connection starts with a snapshot, so nothing missed while away stays stale.
 */
export function connect(path, onEvent, statusElement) {
  let attempt = 0;
  let timer = null;
  let stopped = false;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const show = (text, state) => {
    if (!statusElement) return;
    statusElement.textContent = text;
    statusElement.dataset.state = state;
  };
  const open = () => {
    const socket = new WebSocket(`${scheme}//${location.host}${path}`);
    let current = false;
    // Live once the snapshot is in: the server sends it after joining the page's groups,
    // so from then on no event can be missed (an open socket alone is not subscribed yet).
    socket.addEventListener("message", (message) => {
      onEvent(JSON.parse(message.data));
      if (!current) {
        current = true;
        attempt = 0;
        show("live", "open");
      }
    });
    socket.addEventListener("close", (close) => {
      if (close.code === SIGNED_OUT) {
        location.reload(); // the login page, then back here
        return;
      }
      if (close.code === FORBIDDEN || stopped) {
        show("not allowed", "closed");
        return;
      }
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
      attempt += 1;
      show(`reconnecting in ${Math.ceil(delay / 1000)} s`, "retrying");
      timer = setTimeout(open, delay * (0.5 + Math.random() / 2));
    });
  };
  open();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** POST `body` as JSON with the CSRF token; resolves to {status, data}. */
export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { detail: `HTTP ${response.status}` };
  }
  return { status: response.status, data };
}

/** GET JSON; null when the endpoint answers an error or is not there. */
export async function getJSON(url) {
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/** A fresh copy of the first element inside <template id=...>. */
export function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

/** The element marked data-field=name inside root (root itself included). */
export function field(root, name) {
  if (root.dataset && root.dataset.field === name) return root;
  return root.querySelector(`[data-field="${name}"]`);
}

export function setText(root, name, text) {
  const element = field(root, name);
  if (element) element.textContent = text;
  return element;
}

// vLLM colours its log prefix; a page shows the text without the escape codes.
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;

export function plain(text) {
  return text.replace(ANSI_ESCAPE, "");
}

export function gib(bytes, digits = 1) {
  return (bytes / GIB).toFixed(digits);
}

/** "YYYY-MM-DD HH:MM:SS" in UTC, as the server renders times (TIME_ZONE is UTC). */
export function timestamp(date) {
  return date.toISOString().slice(0, 19).replace("T", " ");
}

const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["week", 7 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

const plural = (count, unit) => `${count} ${unit}${count === 1 ? "" : "s"}`;

/** "3 hours, 5 minutes ago", as Django's `timesince` puts it (the largest unit and the next
 * one when not zero), or "just now" within the minute. */
export function timeSince(date, now = new Date()) {
  const total = Math.max(0, Math.floor((now - date) / 1000));
  const first = UNITS.findIndex(([, size]) => total >= size);
  if (first === -1) return "just now";
  const [unit, size] = UNITS[first];
  const count = Math.floor(total / size);
  const parts = [plural(count, unit)];
  const next = UNITS[first + 1];
  const rest = next ? Math.floor((total - count * size) / next[1]) : 0;
  if (rest > 0) parts.push(plural(rest, next[0]));
  return `${parts.join(", ")} ago`;
}

/** Keep every <time data-field="since"> under `root` saying how long ago it was. */
export function tickSince(root, everyMs = 15000) {
  const tick = () => {
    for (const time of root.querySelectorAll('time[data-field="since"][datetime]')) {
      const date = new Date(time.dateTime);
      if (!Number.isNaN(date.getTime())) time.textContent = timeSince(date);
    }
  };
  tick();
  return setInterval(tick, everyMs);
}

export function seconds(value) {
  return value === null || value === undefined ? "" : `${value.toFixed(2)} s`;
}
