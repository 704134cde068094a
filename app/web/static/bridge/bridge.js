// The web bridge page: pairs this tab from #code=, resumes a saved pairing, connects a printer
// and shows the bridge's state. Everything it says to the server goes through the SDK.
import {
  BridgeState,
  PrintrelayError,
  SerialPrinter,
  UsbPrinter,
  WebBridge,
  savedBridges,
} from "/sdk/printrelay.js";

const MAX_JOBS_SHOWN = 20;

const TEXT = {
  en: {
    title: "Printrelay web bridge", language: "Language", pairHeading: "Pair this browser",
    pairHelp: "Open this page from the console's Connect printer link, or enter the pairing code it shows.",
    pairingCode: "Pairing code", bridgeName: "Name of this bridge", pair: "Pair",
    resumeHeading: "Paired in this browser", resume: "Resume", pairAgain: "Pair with a new code", scope: "Prints",
    printer: "Printer", noPrinter: "No printer connected", takeOver: "Take over",
    connectHeading: "Printer connection", serial: "Serial (WebSerial)", usb: "USB (WebUSB)",
    baudRate: "Baud rate", connectPrinter: "Connect printer", forget: "Disconnect this browser",
    unpair: "Unpair", managerKey: "Manager API key", confirmUnpair: "Unpair this bridge",
    cancel: "Cancel", jobsHeading: "Printed here",
    unpairHelp: "Unpairing removes this bridge from the server. A bridge cannot remove itself: a manager's API key is needed (used once, not stored).",
    loading: "Loading…", connecting: "Connecting…", connected: "Connected",
    disconnected: "Paired — Disconnected", superseded: "Owned by another tab",
    unpaired: "Unpaired", stopped: "Not paired in this browser", notPaired: "Not paired",
    station: (id) => `One station's jobs (station ${id.slice(0, 8)})`, location: "Location-wide jobs (no station)",
    pairing: "Pairing…", printed: "printed", failed: "failed",
    forgotten: "This browser forgot the bridge. The device stays paired on the server.",
    unpairedNow: "This bridge was unpaired. It will not print again; pair it anew with a new code.",
    noWebSerial: "This browser has no WebSerial. Use Chrome or Edge on a desktop, or the Print-Bridge agent.",
    noWebUsb: "This browser has no WebUSB. Use Chrome or Edge on a desktop, or the Print-Bridge agent.",
  },
  es: {
    title: "Puente web de Printrelay", language: "Idioma", pairHeading: "Vincular este navegador",
    pairHelp: "Abra esta página desde el enlace Conectar impresora de la consola, o escriba el código que muestra.",
    pairingCode: "Código de vinculación", bridgeName: "Nombre de este puente", pair: "Vincular",
    resumeHeading: "Vinculado en este navegador", resume: "Reanudar", pairAgain: "Vincular con un código nuevo", scope: "Imprime",
    printer: "Impresora", noPrinter: "Ninguna impresora conectada", takeOver: "Tomar el control",
    connectHeading: "Conexión de la impresora", serial: "Serie (WebSerial)", usb: "USB (WebUSB)",
    baudRate: "Velocidad (baudios)", connectPrinter: "Conectar impresora",
    forget: "Desconectar este navegador", unpair: "Desvincular",
    managerKey: "Clave API de encargado", confirmUnpair: "Desvincular este puente",
    cancel: "Cancelar", jobsHeading: "Impreso aquí",
    unpairHelp: "Desvincular quita este puente del servidor. Un puente no puede quitarse a sí mismo: hace falta la clave API de un encargado (se usa una vez, no se guarda).",
    loading: "Cargando…", connecting: "Conectando…", connected: "Conectado",
    disconnected: "Vinculado — Desconectado", superseded: "En uso en otra pestaña",
    unpaired: "Desvinculado", stopped: "No vinculado en este navegador", notPaired: "No vinculado",
    station: (id) => `Los trabajos de una estación (estación ${id.slice(0, 8)})`, location: "Trabajos de todo el local (sin estación)",
    pairing: "Vinculando…", printed: "impreso", failed: "falló",
    forgotten: "Este navegador olvidó el puente. El dispositivo sigue vinculado en el servidor.",
    unpairedNow: "Este puente fue desvinculado. No volverá a imprimir; vincúlelo de nuevo con otro código.",
    noWebSerial: "Este navegador no tiene WebSerial. Use Chrome o Edge de escritorio, o el agente Print-Bridge.",
    noWebUsb: "Este navegador no tiene WebUSB. Use Chrome o Edge de escritorio, o el agente Print-Bridge.",
  },
};

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("printrelay:lang") || (navigator.language.startsWith("es") ? "es" : "en");
let bridge = null;
let shownState = "loading";

function t(key, ...args) {
  const value = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return typeof value === "function" ? value(...args) : value;
}

function applyLanguage() {
  document.documentElement.lang = lang;
  $("language").value = lang;
  for (const el of document.querySelectorAll("[data-t]")) {
    if (el.id === "printer-name" && bridge?.printer) continue;
    el.textContent = t(el.dataset.t);
  }
  document.title = t("title");
  if (bridge) showScope(bridge.device);
  showState(shownState);
  if (!$("resume-section").hidden) showSaved();
}

function showState(state) {
  shownState = state;
  const status = $("status");
  status.dataset.state = state;
  status.textContent = t(state);
  $("take-over").hidden = state !== BridgeState.SUPERSEDED;
  const ended = state === BridgeState.UNPAIRED || state === BridgeState.STOPPED;
  for (const id of ["connect-printer", "forget", "unpair"]) $(id).disabled = ended;
  $("pair-again").hidden = !ended;
}

function say(text) {
  $("message").textContent = text;
}

function showOnly(sectionId) {
  for (const id of ["pair-section", "resume-section", "bridge-section"]) $(id).hidden = id !== sectionId;
}

function defaultName() {
  const platform = navigator.userAgentData?.platform || navigator.platform || "browser";
  const brand = navigator.userAgentData?.brands?.find((b) => !/Not.A.Brand|Chromium/.test(b.brand));
  return `Web bridge (${brand?.brand ?? "Chromium"} on ${platform})`;
}

// -- the bridge ---------------------------------------------------------------------------

function run(newBridge) {
  bridge = newBridge;
  const { device } = bridge;
  $("device-name").textContent = device.name;
  showScope(device);
  $("jobs").replaceChildren();
  showOnly("bridge-section");
  bridge.addEventListener("state", ({ detail }) => {
    showState(detail.state);
    if (detail.state === BridgeState.UNPAIRED) say(t("unpairedNow"));
  });
  bridge.addEventListener("job", ({ detail }) => addJob(detail));
  bridge.addEventListener("printer", ({ detail }) => {
    $("printer-name").textContent = detail.printer?.name ?? t("noPrinter");
  });
  bridge.start();
  showState(bridge.state);
}

function showScope(device) {
  $("device-scope").textContent = device.station_id ? t("station", device.station_id) : t("location");
}

function addJob({ job, outcome, error }) {
  const item = document.createElement("li");
  item.dataset.outcome = outcome;
  item.dataset.jobId = job.id;
  const time = new Date().toLocaleTimeString(lang);
  item.textContent = `${time} · ${job.id.slice(0, 8)} · ${t(outcome)}${error ? ` — ${error}` : ""}`;
  $("jobs").prepend(item);
  while ($("jobs").children.length > MAX_JOBS_SHOWN) $("jobs").lastElementChild.remove();
}

async function pairWith(code, name) {
  say(t("pairing"));
  try {
    run(await WebBridge.pair({ code, name }));
    say("");
  } catch (err) {
    say(err.message);
    showPairForm();
  }
}

async function resume(key) {
  try {
    run(await WebBridge.resume({ key }));
    say("");
  } catch (err) {
    say(err.message);
    start();
  }
}

function showSaved() {
  const list = $("saved-list");
  list.replaceChildren();
  for (const saved of savedBridges()) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.id = `saved-${saved.device.id}`;
    name.textContent = saved.device.name;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("resume");
    button.setAttribute("aria-describedby", name.id);
    button.addEventListener("click", () => resume(saved.key));
    item.append(name, button);
    list.append(item);
  }
}

function showPairForm() {
  $("pair-name").value ||= defaultName();
  showOnly("pair-section");
  showState("notPaired");
}

function start() {
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (code) {
    // The code is single-use; out of the address bar (and history) before anything else.
    history.replaceState(null, "", location.pathname + location.search);
    pairWith(code, defaultName());
  } else if (savedBridges().length) {
    showSaved();
    showOnly("resume-section");
    showState(BridgeState.DISCONNECTED);
  } else {
    showPairForm();
  }
}

// -- controls -----------------------------------------------------------------------------

$("pair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  pairWith($("pair-code").value.trim(), $("pair-name").value.trim());
});

$("connect-printer").addEventListener("click", async () => {
  const transport = document.querySelector("input[name=transport]:checked").value;
  try {
    if (transport === "usb") {
      if (!navigator.usb) return say(t("noWebUsb"));
      bridge.setPrinter(await UsbPrinter.request());
    } else {
      if (!navigator.serial) return say(t("noWebSerial"));
      bridge.setPrinter(await SerialPrinter.request({ baudRate: Number($("baud-rate").value) }));
    }
    say("");
  } catch (err) {
    say(err.message); // the picker was dismissed, or the port is busy
  }
});

$("pair-again").addEventListener("click", () => {
  say("");
  start(); // the Resume list if other bridges are saved here, else the pairing form
});

$("take-over").addEventListener("click", async () => {
  try {
    await bridge.takeOver();
  } catch (err) {
    say(err.message);
  }
});

$("forget").addEventListener("click", () => {
  bridge.forget();
  say(t("forgotten"));
});

$("unpair").addEventListener("click", () => {
  $("unpair-form").hidden = false;
  $("manager-key").focus();
});

$("unpair-cancel").addEventListener("click", () => {
  $("unpair-form").hidden = true;
  $("manager-key").value = "";
});

$("unpair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("manager-key").value.trim();
  $("manager-key").value = "";
  try {
    await bridge.unpair(key);
    $("unpair-form").hidden = true;
  } catch (err) {
    say(err instanceof PrintrelayError ? `${err.code}: ${err.message}` : err.message);
  }
});

$("language").addEventListener("change", () => {
  lang = $("language").value;
  localStorage.setItem("printrelay:lang", lang);
  applyLanguage();
});

// A pairing link opened in a tab that already shows this page changes only the fragment.
window.addEventListener("hashchange", () => {
  if (new URLSearchParams(location.hash.slice(1)).has("code")) location.reload();
});

applyLanguage();
start();
