// REST and live events with an API key; the request helper and error type the other modules
// share. Part of the SDK: import it from ./printrelay.js.
import { io } from "../vendor/socket.io-client/socket.io.esm.min.js";

export const CALL_TIMEOUT_MS = 10_000;
const SERVER_DROP_PAUSE_MS = 1000;
const RETRY_DELAYS_MS = [250, 1000, 4000]; // submit: after a network error or a 5xx

/** A non-2xx answer in the contract's shape ({error: {code, message}}), or no answer at all
 *  (status 0, code "network_error"). */
export class PrintrelayError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "PrintrelayError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
  get retryable() {
    return this.status === 0 || this.status >= 500;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One authenticated REST call. Returns the parsed JSON, an ArrayBuffer (as: "bytes"), a Blob
 *  (as: "blob"), a string (as: "text"), or null for 204; throws PrintrelayError. */
export async function request(baseUrl, secret, method, path, options = {}) {
  const { body, query, headers = {}, as = "json", signal } = options;
  const url = new URL(path, baseUrl);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
  }
  const init = { method, headers: { ...headers }, signal };
  if (secret) init.headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new PrintrelayError(0, "network_error", `No answer from the server (${err.message}).`);
  }
  if (!response.ok) {
    let error = {};
    try {
      error = (await response.json()).error ?? {};
    } catch {
      // not Printrelay's JSON: a proxy's error page
    }
    const { code, message, ...details } = error;
    const retryAfter = response.headers.get("Retry-After");
    if (retryAfter) details.retry_after_s = Number(retryAfter);
    throw new PrintrelayError(
      response.status,
      code ?? "unexpected_response",
      message ?? `HTTP ${response.status}`,
      details,
    );
  }
  if (response.status === 204) return null;
  if (as === "bytes") return response.arrayBuffer();
  if (as === "blob") return response.blob();
  if (as === "text") return response.text();
  return response.json();
}

/** REST and live events with an API key (manager or pos). */
export class Client {
  constructor({ apiKey, baseUrl = globalThis.location?.origin } = {}) {
    if (!apiKey) throw new TypeError("Client needs an apiKey");
    this.apiKey = apiKey;
    this.baseUrl = baseUrl;
  }

  request(method, path, options) {
    return request(this.baseUrl, this.apiKey, method, path, options);
  }

  /** POST /v1/print-jobs with an Idempotency-Key. A network error or a 5xx is retried with
   *  the same key, so the server makes one job however many times the request arrived. */
  async submitJob(job, { idempotencyKey = crypto.randomUUID(), retries = RETRY_DELAYS_MS.length } = {}) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request("POST", "/v1/print-jobs", {
          body: job,
          headers: { "Idempotency-Key": idempotencyKey },
        });
      } catch (err) {
        if (!(err instanceof PrintrelayError) || !err.retryable || attempt >= retries) throw err;
        await sleep(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]);
      }
    }
  }

  getJob(id) {
    return this.request("GET", `/v1/print-jobs/${encodeURIComponent(id)}`);
  }
  listJobs(query = {}) {
    return this.request("GET", "/v1/print-jobs", { query });
  }
  cancelJob(id) {
    return this.request("POST", `/v1/print-jobs/${encodeURIComponent(id)}/cancel`);
  }
  reprintJob(id) {
    return this.request("POST", `/v1/print-jobs/${encodeURIComponent(id)}/reprint`);
  }
  /** The newest `limit` jobs of a location (at most 200), newest first: one page of
   *  GET /v1/print-jobs?order=desc. */
  async recentJobs(locationId, { limit = 50 } = {}) {
    const { items } = await this.listJobs({ location_id: locationId, limit, order: "desc" });
    return items;
  }
  /** POST /v1/render: a document that is not stored, as "png" (a Blob), "text" or "escpos"
   *  (an ArrayBuffer); paperWidthMm 80 or 58. A preview, or a picture of a QR code. */
  renderDocument(document, { format = "png", paperWidthMm } = {}) {
    const as = { text: "text", png: "blob" }[format] ?? "bytes";
    const body = { document };
    if (paperWidthMm) body.paper_width_mm = paperWidthMm;
    return this.request("POST", "/v1/render", { query: { format }, body, as });
  }
  /** format: "text" (a string), "png" (a Blob, for URL.createObjectURL), "escpos" or
   *  "escpos_job" (an ArrayBuffer). */
  renderJob(id, format = "text") {
    const as = { text: "text", png: "blob" }[format] ?? "bytes";
    return this.request("GET", `/v1/print-jobs/${encodeURIComponent(id)}/render`, {
      query: { format },
      as,
    });
  }
  listLocations() {
    return this.request("GET", "/v1/locations");
  }
  listStations(locationId) {
    return this.request("GET", `/v1/locations/${encodeURIComponent(locationId)}/stations`);
  }
  /** PATCH /v1/stations/{id} (manager): changes {name?, paper_width_mm?: 58 | 80}. */
  updateStation(stationId, changes) {
    return this.request("PATCH", `/v1/stations/${encodeURIComponent(stationId)}`, { body: changes });
  }
  listDevices(locationId) {
    return this.request("GET", "/v1/devices", { query: { location_id: locationId } });
  }
  /** kind: "web_bridge" or "print_bridge"; stationId null pairs a location bridge. */
  createPairingCode({ locationId, stationId = null, kind = "web_bridge" }) {
    return this.request("POST", "/v1/pairing-codes", {
      body: { location_id: locationId, station_id: stationId, kind },
    });
  }
  unpairDevice(deviceId) {
    return this.request("DELETE", `/v1/devices/${encodeURIComponent(deviceId)}`);
  }

  /** Live events of a location: onJob(job) on every status change, onDevice({device_id,
   *  online, station_id}), onPrinter({device_id, printer, state}) when a bridge's printer
   *  changes state, onState("connected" | "disconnected" | "refused" | "revoked", detail).
   *  Returns {close()}. Reconnects (and subscribes again) by itself, except after "revoked"
   *  (the key was deleted: the server disconnects it for good). */
  watchLocation(locationId, { onJob, onDevice, onPrinter, onState } = {}) {
    const socket = io(this.baseUrl, { auth: { api_key: this.apiKey }, transports: ["websocket"] });
    socket.on("connect", async () => {
      const ack = await socket.timeout(CALL_TIMEOUT_MS).emitWithAck("subscribe", {
        location_id: locationId,
      }).catch((err) => ({ ok: false, error: { code: "timeout", message: err.message } }));
      if (ack?.ok) onState?.("connected");
      else onState?.("refused", ack?.error);
    });
    socket.on("connect_error", (err) => onState?.("refused", err.data ?? { message: err.message }));
    let revoked = false;
    socket.on("api_key.revoked", () => {
      revoked = true;
      onState?.("revoked");
    });
    socket.on("disconnect", (reason) => {
      if (revoked) return;
      onState?.("disconnected", { reason });
      // socket.io-client leaves a socket the server closed closed; the key still works (a
      // revoked one is told so first), so come back, after a pause in case it happens again.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), SERVER_DROP_PAUSE_MS);
    });
    socket.on("print_job.updated", (job) => onJob?.(job));
    socket.on("device.status", (status) => onDevice?.(status));
    socket.on("printer.status", (status) => onPrinter?.(status));
    return { close: () => socket.disconnect(), socket };
  }
}
