// The manager console: sign in with a manager key, then one location's stations and their
// bridges, pairing (Connect printer), Unpair, the live job list with Reprint and a receipt
// preview, and a monitor of the location's devices. Everything it says to the server goes
// through the SDK; the dialogs live in dialogs.js, the job list and preview in jobs.js.
import { Client } from "/sdk/printrelay.js";
import { openConnectDialog, openUnpairDialog } from "./dialogs.js";
import {
  MAX_JOBS_SHOWN,
  keepJob,
  onJob,
  renderJobs,
  showJobsOf,
  tickAges,
} from "./jobs.js";
import { currentLanguage, setLanguage, t, translateDocument } from "./text.js";
import { $, announce, el, explain, say, short, timeOf } from "./ui.js";

const KEY_STORAGE = "printrelay:console:api-key"; // sessionStorage: gone when the tab closes
const MAX_MONITOR_LINES = 50;
const AGE_TICK_MS = 5_000;

let client = null;
let watch = null;
let locations = [];
let locationId = null;
let stations = [];
const devices = new Map(); // id -> Device

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
  showJobsOf(null, null, stationName);
  $("stations").replaceChildren();
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
  showJobsOf(client, id, stationName);
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
      if (state === "revoked" || (state === "refused" && detail?.code === "unauthorized")) {
        signOut();
        say(t("keyRevoked"));
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
      { id: widthId, dataset: { stationId: station.id, focusKey: `width:${station.id}` } },
      ...[80, 58].map((mm) => el("option", { value: String(mm), textContent: `${mm} mm` })),
    );
    width.value = String(station.paper_width_mm);
    width.addEventListener("change", () => saveWidth(station, width));
    const connect = el("button", {
      type: "button",
      textContent: t("connectPrinter"),
      dataset: { focusKey: `connect:${station.id}` },
    });
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
  keepingFocus(() => {
    $("stations").replaceChildren(...cards);
    renderDevices();
  });
}

// Cards are drawn anew on every refresh: whatever had the focus gets it back in the new cards.
function keepingFocus(draw) {
  const key = document.activeElement?.dataset?.focusKey;
  draw();
  if (key && document.activeElement === document.body) {
    document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
  }
}

function renderDevices() {
  keepingFocus(drawDevices);
}

function drawDevices() {
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
  const unpair = el("button", {
    type: "button",
    className: "danger small",
    textContent: t("unpair"),
    dataset: { focusKey: `unpair:${device.id}` },
  });
  unpair.setAttribute("aria-describedby", nameId);
  unpair.addEventListener("click", () => openUnpairDialog({ client, device, onUnpaired: unpaired }));
  const seen = device.last_seen_at ? t("lastSeen", timeOf(device.last_seen_at)) : t("neverSeen");
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
    el("span", {
      className: "printer-state",
      dataset: { state: device.printer_state ?? "unknown" },
      textContent: t("printerState", t(`printer_${device.printer_state ?? "unknown"}`)),
    }),
    el("span", { className: "muted last-seen", textContent: seen }),
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

/** The device an event names; a device paired since the last listing is fetched first. */
async function deviceFor(id) {
  if (!devices.has(id)) {
    try {
      await refreshDevices();
    } catch (err) {
      say(explain(err));
    }
  }
  return devices.get(id);
}

async function onDevice({ device_id: id, online }) {
  const device = await deviceFor(id);
  log(online ? t("deviceOnline", device?.name ?? short(id)) : t("deviceOffline", device?.name ?? short(id)));
  if (device) {
    device.online = online;
    device.last_seen_at = new Date().toISOString(); // it was there a moment ago
    renderDevices();
  }
}

async function onPrinter({ device_id: id, state }) {
  const device = await deviceFor(id);
  log(t("printerChanged", device?.name ?? short(id), t(`printer_${state}`)));
  if (device) {
    device.printer_state = state;
    renderDevices();
  }
}


function stationName(id) {
  return id ? (stations.find((s) => s.id === id)?.name ?? short(id)) : t("noStation");
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

setInterval(tickAges, AGE_TICK_MS);

applyLanguage();
const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) {
  signIn(saved).then((ok) => {
    if (!ok) signOut();
  });
} else {
  $("sign-in-section").hidden = false;
}
