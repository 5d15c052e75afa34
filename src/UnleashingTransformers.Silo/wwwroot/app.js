// The gateway's page: submit jobs, list them, follow one live (Server-Sent Events, a preview that fills in),
// cancel it, and zoom into a finished image (OpenSeadragon on its DeepZoom pyramid). Plain JS, no framework.
"use strict";

const $ = id => document.getElementById(id);
let current = null;   // { id, events, viewer }

// Off loopback the gateway wants its token. The page hands it over once (POST /session, the token as a bearer)
// and the gateway sets it as an HttpOnly cookie: no script on the page can read it afterwards, and it is not
// kept in the page's storage. Every request below goes out with that cookie.
async function signIn() {
  const t = $("token").value.trim();
  $("token").value = "";
  const response = await fetch("/session", t ? { method: "POST", headers: { Authorization: `Bearer ${t}` } } : { method: "DELETE" });
  $("token").placeholder = response.ok && t ? "token given (kept by the browser as a cookie)" : "only off loopback";
  if (!response.ok && t) $("form-error").textContent = "the gateway refused the token";
}
async function api(method, path, body) {
  const headers = body ? { "Content-Type": "application/json" } : {};
  const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(data?.error ?? `${response.status} ${response.statusText}`);
  return data;
}

// Page content from job data is text, never markup: ids, states and errors are set with textContent.
function cell(child) {
  const td = document.createElement("td");
  td.append(child);
  return td;
}
function element(tag, text, className) {
  const e = document.createElement(tag);
  e.textContent = text;
  if (className) e.className = className;
  return e;
}

function progressText(s) { return `step ${s.step}/${s.steps}, ${s.revealed}/${s.total} tokens`; }

async function refreshList() {
  try {
    const page = await api("GET", "/jobs?limit=20");
    const rows = page.jobs.map(s => {
      const tr = document.createElement("tr");
      tr.dataset.id = s.id;
      const preview = document.createElement("img");
      preview.alt = "";
      preview.src = `/jobs/${encodeURIComponent(s.id)}/preview.png?step=${encodeURIComponent(s.step)}`;
      tr.append(cell(preview), cell(element("code", s.id)), cell(element("span", s.state, `state ${s.state}`)), cell(progressText(s)));
      tr.addEventListener("click", () => open(s.id));
      return tr;
    });
    $("job-list").replaceChildren(...rows);
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

function showStatus(s) {
  $("job-state").textContent = s.state;
  $("job-state").className = `state ${s.state}`;
  $("job-progress").value = s.steps ? s.step / s.steps : 0;
  $("job-counts").textContent = progressText(s);
  $("job-error").textContent = s.error ?? "";
  $("cancel").disabled = s.state === "done" || s.state === "failed" || s.state === "cancelled";
  if (s.state !== "failed" && s.state !== "cancelled" && s.state !== "resuming")
    $("preview").src = `/jobs/${encodeURIComponent(s.id)}/preview.png?step=${s.step}&revealed=${s.revealed}`;
  if (s.state === "done") showImage(s.id);
}

function showImage(id) {
  if (!current || current.id !== id || current.viewer) return;
  $("viewer").hidden = false;
  $("job-png").hidden = false;
  $("job-png").href = `/jobs/${encodeURIComponent(id)}/image`;
  current.viewer = OpenSeadragon({
    element: $("viewer"), prefixUrl: "lib/openseadragon/images/", tileSources: `/jobs/${encodeURIComponent(id)}/image.dzi`,
    showNavigator: true, maxZoomPixelRatio: 8, imageSmoothingEnabled: false,
  });
  current.viewer.addHandler("tile-loaded", () => { document.body.dataset.tilesLoaded = String(Number(document.body.dataset.tilesLoaded ?? 0) + 1); });
}

function open(id) {
  if (current) {
    current.events?.close();
    current.viewer?.destroy();
  }
  current = { id, events: null, viewer: null };
  document.body.dataset.tilesLoaded = "0";
  $("job").hidden = false;
  $("viewer").hidden = true;
  $("viewer").replaceChildren();
  $("job-png").hidden = true;
  $("job-id").textContent = id;
  const events = new EventSource(`/jobs/${encodeURIComponent(id)}/events`);
  current.events = events;
  let count = 0;
  events.addEventListener("status", message => {
    const s = JSON.parse(message.data);
    document.body.dataset.events = String(++count);
    showStatus(s);
    if (s.state === "done" || s.state === "failed" || s.state === "cancelled") { events.close(); refreshList(); }
  });
  events.onerror = () => { if (events.readyState === EventSource.CLOSED) return; };
  history.replaceState(null, "", `#${encodeURIComponent(id)}`);
}

$("job-form").addEventListener("submit", async event => {
  event.preventDefault();
  $("form-error").textContent = "";
  const form = new FormData(event.target);
  const job = {};
  for (const [key, value] of form) {
    if ((key === "priority" || key === "model") && value === "") continue;   // the gateway's rule by size, the default model
    job[key] = ["aggregate", "tiling", "schedule", "priority", "model"].includes(key) ? value : Number(value);
  }
  try {
    const status = await api("POST", "/jobs", job);
    await refreshList();
    open(status.id);
  } catch (e) {
    $("form-error").textContent = e.message;
  }
});

// The form starts from the gateway's defaults (GET /defaults: the job spec's own), not from values of its own.
async function loadDefaults() {
  try {
    const defaults = await api("GET", "/defaults");
    for (const name of ["height", "width", "seed", "steps", "temperature", "aggregate", "tiling", "schedule"])
      document.querySelector(`#job-form [name=${name}]`).value = String(defaults[name]);
    document.body.dataset.defaults = "loaded";
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

// The models the grid serves (GET /models), the default first and selected.
async function loadModels() {
  try {
    const { models } = await api("GET", "/models");
    const options = models.map(m => {
      const o = element("option", `${m.name}${m.loaded.length ? "" : " (not loaded)"}`);
      o.value = m.name;
      o.selected = m.default;
      return o;
    });
    if (options.length) $("model").replaceChildren(...options);
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

$("cancel").addEventListener("click", async () => {
  if (!current) return;
  try { await api("DELETE", `/jobs/${encodeURIComponent(current.id)}`); } catch (e) { $("job-error").textContent = e.message; }
});

// Counters a test (or a curious user) can read: events received, previews and tiles drawn.
$("preview").addEventListener("load", () => { document.body.dataset.previews = String(Number(document.body.dataset.previews ?? 0) + 1); });

$("token").addEventListener("change", async () => { await signIn(); refreshList(); loadDefaults(); loadModels(); });
refreshList();
loadDefaults();
loadModels();
setInterval(refreshList, 3000);
if (location.hash.length > 1) open(decodeURIComponent(location.hash.slice(1)));
