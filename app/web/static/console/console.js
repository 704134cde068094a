// The manager console: sign in with a manager key, then one location's stations and their
// bridges, pairing (Connect printer), Unpair, the live job list with Reprint and a receipt
// preview, and a monitor of the location's devices. Everything it says to the server goes
// through the SDK; the pairing and unpair dialogs live in dialogs.js.
import { Client, PrintrelayError } from "/sdk/printrelay.js";
import { openConnectDialog, openUnpairDialog } from "./dialogs.js";
import { currentLanguage, setLanguage, t, translateDocument } from "./text.js";

const KEY_STORAGE = "printrelay:console:api-key"; // sessionStorage: gone when the tab closes
const MAX_JOBS_SHOWN = 50;
const MAX_MONITOR_LINES = 50;
const AGE_TICK_MS = 5_000;
const REPRINTABLE = new Set(["failed", "unconfirmed"]);
const NEEDS_A_PERSON = new Set(["failed", "unconfirmed", "expired"]);

const $ = (id) => document.getElementById(id);
const short = (id) => id.slice(0, 8);

let client = null;
let watch = null;
let locations = [];
let locationId = null;
let stations = [];
const devices = new Map(); // id -> Device
const jobs = new Map(); // id -> Job
let previewUrl = null;

function say(text) {
  $("message").textContent = text;
}

function announce(text) {
  $("announce").textContent = text;
}

function explain(err) {
  return err instanceof PrintrelayError ? `${err.message} (${err.code})` : err.message;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function timeOf(iso) {
  return new Date(iso).toLocaleTimeString(currentLanguage());
}

function age(iso) {
  return t("ago", Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)));
}

// -- signing in and out ----------------------------------------------------------------------

async function signIn(key) {
  const candidate = new Client({ apiKey: key });
  let found;
  try {
    // /v1/devices is for managers only: a pos key is told so here, not on the first click.
    [found] = await Promise.all([candidate.listLocations(), candidate.listDevices()]);
  } catch (err) {
    if (err.status === 401) say(t("wrongKey"));
    else if (err.status === 403) say(t("notManager"));
    else say(explain(err));
    return false;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  client = candidate;
  locations = found.items;
  say("");
  $("sign-in-section").hidden = true;
  $("console-section").hidden = false;
  $("sign-out").hidden = false;
  $("location").replaceChildren(
    ...locations.map((loc) => el("option", { value: loc.id, textContent: loc.name })),
  );
  if (!locations.length) say(t("noLocations"));
  else openLocation(locations[0].id);
  return true;
}

function signOut() {
  watch?.close();
  watch = null;
  client = null;
  locationId = null;
  sessionStorage.removeItem(KEY_STORAGE);
  devices.clear();
  jobs.clear();
  clearPreview();
  $("stations").replaceChildren();
  $("jobs").replaceChildren();
  $("monitor").replaceChildren();
  $("console-section").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-section").hidden = false;
  $("api-key").focus();
}

// -- one location ----------------------------------------------------------------------------

function openLocation(id) {
  watch?.close();
  locationId = id;
  $("location").value = id;
  devices.clear();
  jobs.clear();
  clearPreview();
  $("monitor").replaceChildren();
  showWatchState("connecting");
  // Live first, then the REST snapshot (again after every reconnect: events are at most once).
  watch = client.watchLocation(id, {
    onJob,
    onDevice,
    onPrinter,
    onState: (state, detail) => {
      if (id !== locationId) return;
      showWatchState(state);
      if (state === "connected") refresh();
      if (state === "refused" && ["unauthorized", "revoked"].includes(detail?.code)) {
        signOut();
        say(t("wrongKey"));
      }
    },
  });
  refresh();
}

async function refresh() {
  const id = locationId;
  try {
    const [stationList, deviceList, recent] = await Promise.all([
      client.listStations(id),
      client.listDevices(id),
      client.recentJobs(id, { limit: MAX_JOBS_SHOWN }),
    ]);
    if (id !== locationId) return;
    stations = stationList.items;
    devices.clear();
    for (const device of deviceList.items) devices.set(device.id, device);
    for (const job of recent) keepJob(job);
    renderStations();
    renderJobs();
  } catch (err) {
    say(explain(err));
  }
}

async function refreshDevices() {
  const id = locationId;
  const { items } = await client.listDevices(id);
  if (id !== locationId) return;
  devices.clear();
  for (const device of items) devices.set(device.id, device);
  renderDevices();
}

function showWatchState(state) {
  const chip = $("watch-state");
  chip.dataset.state = state === "connected" ? "connected" : "disconnected";
  chip.textContent = state === "connected" ? t("live") : t("reconnecting");
}

// -- stations and their devices --------------------------------------------------------------

function renderStations() {
  const cards = stations.map((station) => {
    const widthId = `width-${station.id}`;
    const width = el(
      "select",
      { id: widthId, dataset: { stationId: station.id } },
      ...[80, 58].map((mm) => el("option", { value: String(mm), textContent: `${mm} mm` })),
    );
    width.value = String(station.paper_width_mm);
    width.addEventListener("change", () => saveWidth(station, width));
    const connect = el("button", { type: "button", textContent: t("connectPrinter") });
    connect.addEventListener("click", () =>
      openConnectDialog({ client, locationId, stationId: station.id, title: t("connectTo", station.name) }),
    );
    return el(
      "article",
      { className: "card", "aria-labelledby": `station-${station.id}`, dataset: { stationId: station.id } },
      el("h3", { id: `station-${station.id}`, textContent: station.name }),
      el("p", { className: "field" }, el("label", { htmlFor: widthId, textContent: t("paperWidth") }), width),
      el("ul", { className: "devices", dataset: { stationId: station.id } }),
      connect,
    );
  });
  const locationName = locations.find((loc) => loc.id === locationId)?.name ?? "";
  cards.push(
    el(
      "article",
      { className: "card location-card", "aria-labelledby": "location-bridges" },
      el("h3", { id: "location-bridges", textContent: t("locationBridges") }),
      el("p", { className: "muted", textContent: t("locationBridgesHelp") }),
      el("ul", { className: "devices", dataset: { stationId: "" } }),
    ),
  );
  $("connect-location").onclick = () =>
    openConnectDialog({ client, locationId, stationId: null, title: t("connectToLocation", locationName) });
  $("stations").replaceChildren(...cards);
  renderDevices();
}

function renderDevices() {
  for (const list of document.querySelectorAll("ul.devices")) {
    const stationId = list.dataset.stationId || null;
    const mine = [...devices.values()].filter((d) => d.station_id === stationId);
    list.replaceChildren(
      ...(mine.length ? mine.map(deviceRow) : [el("li", { className: "muted", textContent: t("noDevices") })]),
    );
  }
}

function deviceRow(device) {
  const nameId = `device-${device.id}`;
  const unpair = el("button", { type: "button", className: "danger small", textContent: t("unpair") });
  unpair.setAttribute("aria-describedby", nameId);
  unpair.addEventListener("click", () => openUnpairDialog({ client, device, onUnpaired: unpaired }));
  const seen = device.last_seen_at ? timeOf(device.last_seen_at) : t("never");
  return el(
    "li",
    { dataset: { deviceId: device.id } },
    el("span", { className: "device-name", id: nameId, textContent: device.name }),
    el("span", { className: "kind", textContent: t(`kind_${device.kind}`) }),
    el("span", {
      className: "chip small",
      dataset: { state: device.online ? "connected" : "unpaired" },
      textContent: device.online ? t("online") : t("offline"),
    }),
    el("span", { className: "printer-state", textContent: t("printerState", device.printer_state) }),
    el("span", { className: "muted last-seen", textContent: t("lastSeen", seen) }),
    unpair,
  );
}

function unpaired(device) {
  devices.delete(device.id);
  renderDevices();
  announce(t("unpaired", device.name));
  log(t("unpaired", device.name));
}

async function saveWidth(station, select) {
  const mm = Number(select.value);
  try {
    const saved = await client.updateStation(station.id, { paper_width_mm: mm });
    station.paper_width_mm = saved.paper_width_mm;
    announce(t("widthSaved", saved.name, saved.paper_width_mm));
    say("");
  } catch (err) {
    select.value = String(station.paper_width_mm); // refused: show what the server keeps
    say(explain(err));
  }
}

// -- live events -----------------------------------------------------------------------------

function log(text) {
  const line = el("li", {}, el("time", { textContent: timeOf(new Date().toISOString()) }), ` ${text}`);
  $("monitor").prepend(line);
  while ($("monitor").children.length > MAX_MONITOR_LINES) $("monitor").lastElementChild.remove();
}

async function onDevice({ device_id: id, online }) {
  const known = devices.get(id);
  if (known) {
    known.online = online;
    renderDevices();
  }
  try {
    await refreshDevices(); // a new pairing, and last_seen_at
  } catch (err) {
    say(explain(err));
  }
  const name = devices.get(id)?.name ?? known?.name ?? short(id);
  log(online ? t("deviceOnline", name) : t("deviceOffline", name));
}

function onPrinter({ device_id: id, state }) {
  const device = devices.get(id);
  if (device) {
    device.printer_state = state;
    renderDevices();
  }
  log(t("printerChanged", device?.name ?? short(id), state));
}

function onJob(job) {
  if (job.location_id !== locationId) return;
  keepJob(job);
  renderJobs();
  if (NEEDS_A_PERSON.has(job.status)) announce(t("jobChanged", short(job.id), t(`status_${job.status}`)));
}

function keepJob(job) {
  const known = jobs.get(job.id);
  if (!known || Date.parse(job.updated_at) >= Date.parse(known.updated_at)) jobs.set(job.id, job);
}

// -- the job list and the preview ------------------------------------------------------------

function stationName(id) {
  return id ? (stations.find((s) => s.id === id)?.name ?? short(id)) : t("noStation");
}

function renderJobs() {
  const newest = [...jobs.values()]
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))
    .slice(0, MAX_JOBS_SHOWN);
  for (const job of jobs.values()) if (!newest.includes(job)) jobs.delete(job.id);
  $("jobs").replaceChildren(...newest.map(jobRow));
  $("no-jobs").hidden = newest.length > 0;
}

function jobRow(job) {
  const open = el("button", { type: "button", className: "link", textContent: short(job.id) });
  open.addEventListener("click", () => showPreview(job));
  let reprint = null;
  if (REPRINTABLE.has(job.status)) {
    reprint = el("button", { type: "button", className: "secondary small", textContent: t("reprint") });
    reprint.setAttribute("aria-describedby", `job-${job.id}`);
    reprint.addEventListener("click", () => reprintJob(job));
  }
  const statusText = t(`status_${job.status}`) + (job.error ? ` — ${job.error}` : "");
  return el(
    "tr",
    { id: `job-${job.id}`, dataset: { jobId: job.id, status: job.status } },
    el("td", {}, open),
    el("td", { textContent: stationName(job.station_id) }),
    el("td", {}, el("span", { className: "status", dataset: { status: job.status }, textContent: statusText })),
    el("td", { className: "age", dataset: { created: job.created_at }, textContent: age(job.created_at) }),
    el("td", {}, reprint),
  );
}

async function reprintJob(job) {
  try {
    const copy = await client.reprintJob(job.id);
    keepJob(copy);
    renderJobs();
    announce(t("reprinted", short(copy.id)));
    say("");
  } catch (err) {
    say(explain(err));
  }
}

function clearPreview() {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  $("preview-image").hidden = true;
  $("preview-image").removeAttribute("src");
  $("preview-text").hidden = true;
  $("preview-empty").hidden = false;
}

async function showPreview(job) {
  clearPreview();
  $("preview-empty").hidden = true;
  const text = $("preview-text");
  if (job.raw) {
    text.textContent = t("notRenderable");
    text.hidden = false;
    return;
  }
  try {
    previewUrl = URL.createObjectURL(await client.renderJob(job.id, "png"));
    const image = $("preview-image");
    image.alt = t("receiptAlt", short(job.id));
    image.src = previewUrl;
    image.hidden = false;
  } catch (pngError) {
    try {
      text.textContent = await client.renderJob(job.id, "text"); // the paper as text, then
    } catch {
      text.textContent = explain(pngError);
    }
    text.hidden = false;
  }
}

// -- controls --------------------------------------------------------------------------------

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = $("api-key");
  if (await signIn(field.value.trim())) field.value = "";
});

$("sign-out").addEventListener("click", () => {
  signOut();
  announce(t("signOut"));
});

$("location").addEventListener("change", () => openLocation($("location").value));

$("language").addEventListener("change", () => {
  setLanguage($("language").value);
  applyLanguage();
});

function applyLanguage() {
  translateDocument();
  $("language").value = currentLanguage();
  if (client && locationId) {
    showWatchState($("watch-state").dataset.state === "connected" ? "connected" : "disconnected");
    renderStations();
    renderJobs();
  }
}

setInterval(() => {
  for (const cell of document.querySelectorAll("td.age")) cell.textContent = age(cell.dataset.created);
}, AGE_TICK_MS);

applyLanguage();
const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) {
  signIn(saved).then((ok) => {
    if (!ok) signOut();
  });
} else {
  $("sign-in-section").hidden = false;
}
