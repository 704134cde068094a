// A browser tab as a print bridge (device kind web_bridge), doing what bridge_agent/ does:
// pair, resume, own the device's socket, claim, write the job's bytes, report, heartbeat.
// Part of the SDK: import it from ./printrelay.js.
import { io } from "../vendor/socket.io-client/socket.io.esm.min.js";
import { CALL_TIMEOUT_MS, PrintrelayError, request } from "./client.js";

export const HEARTBEAT_INTERVAL_S = 30; // renews the server's 60 s owner lock
export const STORAGE_PREFIX = "printrelay:web-bridge:";
const BRIDGE_RETRY_MS = 2000; // a bridge step that got no answer: reconcile again after this

/** Where a paired tab keeps its token: the contract's localStorage key. */
export function storageKey(locationId, stationId = null) {
  return stationId ? `${STORAGE_PREFIX}${locationId}:${stationId}` : `${STORAGE_PREFIX}${locationId}`;
}

/** The bridges paired in this browser: [{key, token, device}], newest first. */
export function savedBridges(storage = globalThis.localStorage) {
  const found = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (!key?.startsWith(STORAGE_PREFIX) || key.endsWith(":journal")) continue;
    try {
      const saved = JSON.parse(storage.getItem(key));
      if (saved?.token && saved?.device?.id) found.push({ key, ...saved });
    } catch {
      // not ours
    }
  }
  return found.sort((a, b) => String(b.device.paired_at).localeCompare(String(a.device.paired_at)));
}

/** The bridge's states, as the page shows them. */
export const BridgeState = Object.freeze({
  CONNECTING: "connecting",
  CONNECTED: "connected", // owner of the device: receives and prints jobs
  DISCONNECTED: "disconnected", // paired, socket down (reconnecting)
  SUPERSEDED: "superseded", // another tab of the same device owns it
  UNPAIRED: "unpaired", // unpaired or revoked: final
  STOPPED: "stopped", // this tab let go (Disconnect this browser)
});

// A job's steps, journaled in storage before each one happens, so a reloaded tab finishes
// what it started and never prints a job twice by itself (bridge_agent/spool.py).
const Stage = Object.freeze({ CLAIMED: "claimed", PRINTING: "printing", PRINTED: "printed" });
const INTERRUPTED =
  "interrupted_while_printing: the tab closed mid-job; check the paper, reprint if needed";

/** A browser tab as a device of kind web_bridge. Events (EventTarget): "state" ({state,
 *  reason}), "job" ({job, outcome: "printed" | "failed", error}), "printer" ({printer}). */
export class WebBridge extends EventTarget {
  constructor({ baseUrl = globalThis.location?.origin, token, device, storage = globalThis.localStorage,
                heartbeatIntervalS = HEARTBEAT_INTERVAL_S }) {
    super();
    this.baseUrl = baseUrl;
    this.token = token;
    this.device = device;
    this.storage = storage;
    this.key = storageKey(device.location_id, device.station_id);
    this.heartbeatIntervalS = heartbeatIntervalS;
    this.state = BridgeState.DISCONNECTED;
    this.reason = null;
    this.epoch = null;
    this.printer = null;
    this.socket = null;
    this._queue = Promise.resolve();
    this._queued = new Set();
    this._heartbeat = null;
    this._printerStateSent = null;
  }

  /** Pair with a code from the console (POST /v1/devices/pair) and remember the token. */
  static async pair({ code, name, baseUrl = globalThis.location?.origin, storage = globalThis.localStorage }) {
    const { device, token } = await request(baseUrl, null, "POST", "/v1/devices/pair", {
      body: { code, name },
    });
    const bridge = new WebBridge({ baseUrl, token, device, storage });
    storage.setItem(bridge.key, JSON.stringify({ token, device }));
    return bridge;
  }

  /** A bridge paired earlier in this browser (see savedBridges), checked with GET
   *  /v1/devices/me. An unpaired device's entry is forgotten and the 401 thrown. */
  static async resume({ key, baseUrl = globalThis.location?.origin, storage = globalThis.localStorage }) {
    const saved = JSON.parse(storage.getItem(key) ?? "null");
    if (!saved?.token) throw new PrintrelayError(0, "not_paired", "This browser is not paired.");
    try {
      const device = await request(baseUrl, saved.token, "GET", "/v1/devices/me");
      storage.setItem(key, JSON.stringify({ token: saved.token, device }));
      return new WebBridge({ baseUrl, token: saved.token, device, storage });
    } catch (err) {
      if (err.status === 401) forgetKey(storage, key);
      throw err;
    }
  }

  _move(state, reason = null) {
    if (this.state === BridgeState.UNPAIRED || this.state === BridgeState.STOPPED) return;
    this.state = state;
    this.reason = reason;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, reason } }));
  }

  /** Open the device's socket; the server makes it the owner (or tells it another tab is). */
  start() {
    if (this.socket) return;
    this._move(BridgeState.CONNECTING);
    const socket = io(this.baseUrl, { auth: { token: this.token }, transports: ["websocket"] });
    this.socket = socket;
    socket.on("connect_error", (err) => {
      const code = err.data?.code;
      if (code === "revoked" || code === "unauthorized") this._end(BridgeState.UNPAIRED, code);
      else this._move(BridgeState.DISCONNECTED, err.message);
    });
    socket.on("disconnect", (why) => this._move(BridgeState.DISCONNECTED, why));
    socket.on("bridge.owner", ({ epoch }) => {
      this.epoch = epoch;
      this._move(BridgeState.CONNECTED);
      this._printerStateSent = null; // a new owner socket: say it again
      this._reportPrinter(this.printer ? "online" : "offline");
      this._enqueue("reconcile", null); // Socket.IO delivers at most once: ask REST what is due
    });
    socket.on("superseded", () => this._move(BridgeState.SUPERSEDED));
    socket.on("print_job.new", (job) => {
      if (this.state === BridgeState.CONNECTED) this._enqueue(job.id, job);
    });
    socket.on("device.unpaired", () => this._end(BridgeState.UNPAIRED, "unpaired"));
    this._heartbeat = setInterval(() => this._beat(), this.heartbeatIntervalS * 1000);
  }

  async _beat() {
    if (!this.socket?.connected) return;
    try {
      const ack = await this.socket.timeout(CALL_TIMEOUT_MS).emitWithAck("heartbeat");
      if (ack?.owner === false) this._move(BridgeState.SUPERSEDED);
      else if (ack?.owner && this.state !== BridgeState.CONNECTED) {
        this.epoch = ack.epoch;
        this._move(BridgeState.CONNECTED);
        this._enqueue("reconcile", null);
      }
    } catch {
      this.socket.disconnect().connect(); // no answer: half-open; start over
    }
  }

  /** Win the device back from another tab (the server gives this socket a new epoch). */
  async takeOver() {
    const ack = await this.socket.timeout(CALL_TIMEOUT_MS).emitWithAck("take_over");
    if (ack?.error) throw new PrintrelayError(409, ack.error.code, ack.error.message);
    return ack.epoch; // bridge.owner follows, which sets the state and reconciles
  }

  /** The printer jobs go to (SerialPrinter, UsbPrinter, or any {name, write(bytes)}). Jobs
   *  offered while there was none were left unclaimed; they are fetched again now. */
  setPrinter(printer) {
    this.printer = printer;
    this._reportPrinter(printer ? "online" : "offline");
    this.dispatchEvent(new CustomEvent("printer", { detail: { printer } }));
    if (printer && this.state === BridgeState.CONNECTED) this._enqueue("reconcile", null);
  }

  /** printer.status on change, as the agent sends it: "offline" while no printer is connected
   *  (WebSerial and WebUSB cannot tell paper out from a cable pulled: a failed write is "error"). */
  _reportPrinter(state) {
    if (state === this._printerStateSent || this.state !== BridgeState.CONNECTED) return;
    this._printerStateSent = state;
    const printer = (this.printer?.name ?? "none").slice(0, 100);
    this.socket.emit("printer.status", { printer, state });
  }

  /** Stop here for good: the server said unpaired/revoked. Forget the token too. */
  _end(state, reason) {
    this._move(state, reason);
    this.state = state;
    this._close();
    if (state === BridgeState.UNPAIRED) forgetKey(this.storage, this.key);
  }

  _close() {
    clearInterval(this._heartbeat);
    this._heartbeat = null;
    this.socket?.off();
    this.socket?.disconnect();
  }

  /** Disconnect this browser: stop, and forget the token locally (the device stays paired). */
  forget() {
    this._end(BridgeState.STOPPED, "forgotten");
    forgetKey(this.storage, this.key);
  }

  /** Unpair: a device cannot remove itself (DELETE /v1/devices/{id} is a manager's), so this
   *  takes a manager API key, used once and never stored. */
  async unpair(managerKey) {
    await request(this.baseUrl, managerKey, "DELETE", `/v1/devices/${this.device.id}`);
    this._end(BridgeState.UNPAIRED, "unpaired");
  }

  // -- jobs ------------------------------------------------------------------------------

  _enqueue(id, job) {
    if (this._queued.has(id)) return;
    this._queued.add(id);
    this._queue = this._queue.then(async () => {
      this._queued.delete(id);
      if (this.state !== BridgeState.CONNECTED) return;
      try {
        if (job === null) await this._reconcile();
        else await this._handleOffer(job);
      } catch (err) {
        console.warn(`printrelay: ${id} postponed`, err);
        setTimeout(() => this._enqueue("reconcile", null), BRIDGE_RETRY_MS);
      }
    });
  }

  async _call(event, data) {
    const ack = await this.socket.timeout(CALL_TIMEOUT_MS).emitWithAck(event, data);
    if (typeof ack !== "object" || ack === null) throw new Error("unexpected acknowledgement");
    return ack;
  }

  async _handleOffer(job) {
    if (this._journal()[job.id] || !this.printer) return; // ours already, or held unclaimed
    const ack = await this._call("print_job.claim", { id: job.id, epoch: this.epoch });
    if (!ack.ok) return; // already_claimed and the like: another bridge prints it
    this._record(job.id, { stage: Stage.CLAIMED });
    await this._printAndReport(ack.job);
  }

  async _printAndReport(job) {
    let outcome = "printed";
    let error = null;
    let bytes = null;
    try {
      bytes = new Uint8Array(
        await this._rest("GET", `/v1/print-jobs/${job.id}/render`, {
          query: { format: "escpos_job" },
          as: "bytes",
        }),
      );
    } catch (err) {
      // No answer or a 5xx: nothing was written; the journal says claimed, so the next
      // reconciliation prints it. A refusal (not_renderable) is final, as for the agent.
      if (err.retryable) throw err;
      outcome = "failed";
      error = `render_error: ${err.message}`.slice(0, 200);
    }
    if (bytes) {
      this._record(job.id, { stage: Stage.PRINTING });
      try {
        await this.printer.write(bytes);
        this._reportPrinter("online");
      } catch (err) {
        this._reportPrinter("error");
        outcome = "failed";
        error = `printer_error: ${err.message}`.slice(0, 200);
      }
    }
    this._record(job.id, { stage: Stage.PRINTED, outcome, error });
    this.dispatchEvent(new CustomEvent("job", { detail: { job, outcome, error } }));
    await this._report(job.id);
  }

  async _report(jobId) {
    const entry = this._journal()[jobId];
    const message = { id: jobId, epoch: this.epoch, status: entry.outcome };
    if (entry.outcome === "failed") message.error = entry.error;
    const ack = await this._call("print_job.report", message);
    const code = ack.ok ? null : ack.error?.code;
    if (!code || ["invalid_transition", "not_found", "already_claimed"].includes(code)) {
      this._record(jobId, null); // accepted, or settled by the server meanwhile: done
    }
  }

  async _reconcile() {
    for (const [jobId, entry] of Object.entries(this._journal())) {
      if (entry.stage === Stage.PRINTING) {
        this._record(jobId, { stage: Stage.PRINTED, outcome: "failed", error: INTERRUPTED });
        await this._report(jobId);
      } else if (entry.stage === Stage.PRINTED) {
        await this._report(jobId);
      } else if (entry.stage === Stage.CLAIMED && this.printer) {
        const job = await this._rest("GET", `/v1/print-jobs/${jobId}`);
        if (job.status === "sent" && job.claimed_by === this.device.id) await this._printAndReport(job);
        else this._record(jobId, null);
      }
    }
    if (!this.printer) return; // offers wait unclaimed until a printer is connected
    for await (const job of this._jobs("pending")) this._enqueue(job.id, job);
  }

  async *_jobs(status) {
    let cursor;
    do {
      const page = await this._rest("GET", "/v1/print-jobs", { query: { status, limit: 200, cursor } });
      yield* page.items;
      cursor = page.next_cursor;
    } while (cursor);
  }

  _rest(method, path, options) {
    return request(this.baseUrl, this.token, method, path, options);
  }

  _journal() {
    return JSON.parse(this.storage.getItem(`${this.key}:journal`) ?? "{}");
  }

  _record(jobId, entry) {
    const journal = this._journal();
    if (entry) journal[jobId] = entry;
    else delete journal[jobId];
    this.storage.setItem(`${this.key}:journal`, JSON.stringify(journal));
  }
}

function forgetKey(storage, key) {
  storage.removeItem(key);
  storage.removeItem(`${key}:journal`);
}
