// Memory bars: the same split as console/web/memory.py, redrawn from live samples.
// GPU: awake instances as weights + KV cache, sleepers as what they still hold, instances
// between states as busy, the rest as other processes. Host: each instance's RSS; a
// level-1 sleeper's RSS is its pinned weight backup.

import { cloneTemplate, field, gib } from "./live.js";
import { stateLabel } from "./rows.js";

const GIB = 1024 ** 3;

function instanceGpuSegments(name, instance, held) {
  if (instance.state === "sleeping") return [[`${name} (asleep)`, "sleeping", held]];
  if (instance.state !== "awake") {
    return [[`${name} (${stateLabel(instance.state)})`, "busy", held]];
  }
  const weights = Math.min(held, Math.floor((instance.expected_weights_gib || 0) * GIB));
  const parts = weights ? [[`${name} weights`, "weights", weights]] : [];
  if (held > weights) parts.push([`${name} KV cache`, "kv", held - weights]);
  return parts;
}

// Segments cut to add up to at most `used`, then other processes for the rest, so that a
// bar fills exactly as far as its figure says (console/web/memory.py with_other: RSS
// counts shared pages once per process, so instances can add up to more than used RAM).
function withOther(segments, used) {
  const shown = [];
  let room = used;
  for (const [label, kind, bytes] of segments) {
    if (room <= 0) break;
    const cut = bytes > room;
    shown.push([cut ? `${label} (cut to the used total)` : label, kind, cut ? room : bytes]);
    room -= cut ? room : bytes;
  }
  if (room > 0) shown.push(["other processes", "other", room]);
  return shown;
}

/** byInstance: {name: bytes}; instances: Map name -> {state, sleep_level, expected_weights_gib}. */
export function gpuSegments(byInstance, used, instances) {
  const segments = [];
  for (const name of Object.keys(byInstance).sort()) {
    const instance = instances.get(name);
    if (instance) segments.push(...instanceGpuSegments(name, instance, byInstance[name]));
  }
  return withOther(segments, used);
}

export function hostSegments(instanceRss, used, instances) {
  const segments = [];
  for (const name of Object.keys(instanceRss).sort()) {
    const instance = instances.get(name);
    if (!instance) continue;
    const backup = instance.state === "sleeping" && instance.sleep_level === 1;
    segments.push(
      backup
        ? [`${name} weight backup`, "backup", instanceRss[name]]
        : [`${name} RSS`, "rss", instanceRss[name]],
    );
  }
  return withOther(segments, used);
}

function segmentElement([label, kind, bytes], total) {
  const element = cloneTemplate("segment-template");
  element.className = `seg seg-${kind}`;
  element.dataset.kind = kind;
  element.style.width = `${total ? Math.min(100, (100 * bytes) / total).toFixed(2) : 0}%`;
  element.title = `${label}: ${gib(bytes)} GiB`;
  return element;
}

/** Redraw a bar rendered by partials/membar.html. */
export function drawBar(bar, used, total, segments) {
  bar.dataset.usedBytes = String(used);
  bar.dataset.totalBytes = String(total);
  field(bar, "segments").replaceChildren(...segments.map((s) => segmentElement(s, total)));
  field(bar, "summary").textContent = `${gib(used)} / ${gib(total)} GiB`;
}
