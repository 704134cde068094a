// The console's words in English and Spanish, as the bridge page keeps its own: elements with
// data-t="key" get t(key); the choice is shared with the bridge page (localStorage
// "printrelay:lang").
export const LANG_KEY = "printrelay:lang";

const TEXT = {
  en: {
    title: "Printrelay console", language: "Language", signOut: "Sign out",
    signInHeading: "Sign in", apiKey: "API key", signIn: "Sign in",
    signInHelp: "Enter a manager API key (prk_…). It is kept in this tab only and forgotten when the tab closes.",
    location: "Location", connectLocation: "Connect location printer", stationsHeading: "Stations",
    jobsHeading: "Jobs", colJob: "Job", colStation: "Station", colStatus: "Status", colAge: "Age",
    colActions: "Actions", noJobs: "No jobs yet.", previewHeading: "Receipt preview",
    previewHelp: "Choose a job to see its paper.", monitorHeading: "Live monitor",
    kindLegend: "Bridge", kindWeb: "Web bridge (a Chrome or Edge tab)",
    kindAgent: "Print-Bridge agent (a shop PC)", pairingCode: "Pairing code",
    openBridge: "Open the web bridge with this code", command: "Command on the shop PC",
    copy: "Copy", newCode: "New code", close: "Close", cancel: "Cancel", unpair: "Unpair",
    unpairHelp: "It stops printing at once and cannot reconnect; a job it holds becomes unconfirmed (reprint it from the job list).",
    paperWidth: "Paper width", connectPrinter: "Connect printer", reprint: "Reprint",
    noDevices: "No printer paired.", locationBridges: "Location bridges (no station)",
    locationBridgesHelp: "Print jobs without a station, and a station's jobs while it has no bridge online.",
    online: "Online", offline: "Offline", live: "Live", reconnecting: "Reconnecting…",
    kind_web_bridge: "Web bridge", kind_print_bridge: "Print-Bridge agent", kind_cloudprnt: "CloudPRNT",
    printerState: (state) => `Printer: ${state}`,
    lastSeen: (when) => `last seen ${when}`, neverSeen: "not seen yet",
    noStation: "Location", connectTo: (name) => `Connect printer — ${name}`,
    connectToLocation: (name) => `Connect printer — ${name} (location)`,
    expires: (time) => `Expires at ${time}; single use.`,
    qrAlt: "QR code of the web bridge link",
    unpairQuestion: (name) => `Unpair ${name}?`,
    unpaired: (name) => `${name} was unpaired.`,
    widthSaved: (name, mm) => `${name}: paper width set to ${mm} mm.`,
    copied: "Command copied.", copyByHand: "Select the command and copy it.",
    reprinted: (id) => `Reprint queued as job ${id}.`,
    receiptAlt: (id) => `Receipt of job ${id}`,
    notRenderable: "A raw job (printer bytes): no picture or text to show.",
    wrongKey: "This API key was not accepted. Check it and try again.",
    keyRevoked: "This API key no longer works (it was deleted). Sign in with another manager key.",
    notManager: "This key is not a manager key; the console needs one.",
    deviceOnline: (name) => `${name} is online.`, deviceOffline: (name) => `${name} went offline.`,
    printerChanged: (name, state) => `${name}: printer ${state}.`,
    jobChanged: (id, status) => `Job ${id}: ${status}.`,
    ago: (s) => (s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`),
    status_pending: "pending", status_sent: "sent", status_printed: "printed", status_failed: "failed",
    status_unconfirmed: "unconfirmed", status_expired: "expired", status_canceled: "canceled",
    noLocations: "This tenant has no location yet: create one with POST /v1/locations.",
    reprintOf: (id) => `reprint of ${id}`,
    previewOf: (id, station, mm) => `Job ${id} · ${station} · ${mm} mm paper`,
    printer_unknown: "unknown", printer_online: "online", printer_offline: "offline",
    printer_paper_low: "paper low", printer_paper_out: "out of paper", printer_cover_open: "cover open",
    printer_error: "error",
  },
  es: {
    title: "Consola de Printrelay", language: "Idioma", signOut: "Cerrar sesión",
    signInHeading: "Iniciar sesión", apiKey: "Clave API", signIn: "Entrar",
    signInHelp: "Escriba una clave API de encargado (prk_…). Se guarda solo en esta pestaña y se olvida al cerrarla.",
    location: "Local", connectLocation: "Conectar impresora del local", stationsHeading: "Estaciones",
    jobsHeading: "Trabajos", colJob: "Trabajo", colStation: "Estación", colStatus: "Estado", colAge: "Hace",
    colActions: "Acciones", noJobs: "Aún no hay trabajos.", previewHeading: "Vista del recibo",
    previewHelp: "Elija un trabajo para ver su papel.", monitorHeading: "Monitor en vivo",
    kindLegend: "Puente", kindWeb: "Puente web (una pestaña de Chrome o Edge)",
    kindAgent: "Agente Print-Bridge (un PC de la tienda)", pairingCode: "Código de vinculación",
    openBridge: "Abrir el puente web con este código", command: "Comando en el PC de la tienda",
    copy: "Copiar", newCode: "Código nuevo", close: "Cerrar", cancel: "Cancelar", unpair: "Desvincular",
    unpairHelp: "Deja de imprimir al instante y no puede reconectarse; un trabajo que tenga queda sin confirmar (reimprímalo desde la lista).",
    paperWidth: "Ancho del papel", connectPrinter: "Conectar impresora", reprint: "Reimprimir",
    noDevices: "Ninguna impresora vinculada.", locationBridges: "Puentes del local (sin estación)",
    locationBridgesHelp: "Imprimen los trabajos sin estación, y los de una estación mientras no tiene puente en línea.",
    online: "En línea", offline: "Desconectado", live: "En vivo", reconnecting: "Reconectando…",
    kind_web_bridge: "Puente web", kind_print_bridge: "Agente Print-Bridge", kind_cloudprnt: "CloudPRNT",
    printerState: (state) => `Impresora: ${state}`,
    lastSeen: (when) => `visto por última vez ${when}`, neverSeen: "aún no conectado",
    noStation: "Local", connectTo: (name) => `Conectar impresora — ${name}`,
    connectToLocation: (name) => `Conectar impresora — ${name} (local)`,
    expires: (time) => `Caduca a las ${time}; un solo uso.`,
    qrAlt: "Código QR del enlace al puente web",
    unpairQuestion: (name) => `¿Desvincular ${name}?`,
    unpaired: (name) => `${name} fue desvinculado.`,
    widthSaved: (name, mm) => `${name}: ancho del papel ${mm} mm.`,
    copied: "Comando copiado.", copyByHand: "Seleccione el comando y cópielo.",
    reprinted: (id) => `Reimpresión en cola como trabajo ${id}.`,
    receiptAlt: (id) => `Recibo del trabajo ${id}`,
    notRenderable: "Un trabajo en bruto (bytes de impresora): no hay imagen ni texto que mostrar.",
    wrongKey: "Esta clave API no fue aceptada. Revísela e inténtelo de nuevo.",
    keyRevoked: "Esta clave API ya no funciona (fue borrada). Inicie sesión con otra clave de encargado.",
    notManager: "Esta clave no es de encargado; la consola necesita una.",
    deviceOnline: (name) => `${name} está en línea.`, deviceOffline: (name) => `${name} se desconectó.`,
    printerChanged: (name, state) => `${name}: impresora ${state}.`,
    jobChanged: (id, status) => `Trabajo ${id}: ${status}.`,
    ago: (s) => (s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`),
    status_pending: "pendiente", status_sent: "enviado", status_printed: "impreso", status_failed: "falló",
    status_unconfirmed: "sin confirmar", status_expired: "caducado", status_canceled: "cancelado",
    noLocations: "Este cliente aún no tiene locales: cree uno con POST /v1/locations.",
    reprintOf: (id) => `reimpresión de ${id}`,
    previewOf: (id, station, mm) => `Trabajo ${id} · ${station} · papel de ${mm} mm`,
    printer_unknown: "desconocida", printer_online: "en línea", printer_offline: "desconectada",
    printer_paper_low: "poco papel", printer_paper_out: "sin papel", printer_cover_open: "tapa abierta",
    printer_error: "error",
  },
};

let lang = localStorage.getItem(LANG_KEY) || (navigator.language.startsWith("es") ? "es" : "en");

export function currentLanguage() {
  return lang;
}

export function setLanguage(next) {
  lang = TEXT[next] ? next : "en";
  localStorage.setItem(LANG_KEY, lang);
}

export function t(key, ...args) {
  const value = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return typeof value === "function" ? value(...args) : value;
}

/** Fills every [data-t] element of the document with its words in the current language. */
export function translateDocument() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  document.title = t("title");
}
