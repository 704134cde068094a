// Printrelay's browser SDK (docs/sdk.md): the one module a POS app, the console and the web
// bridge page import. No dependencies but the vendored socket.io-client served beside it.
//   Client      REST with an API key: submit (Idempotency-Key, safe retries), jobs, devices,
//               pairing codes, unpair, reprint; watchLocation() for live events.
//   WebBridge   a browser tab as a print bridge: pair, resume, own the device's socket, claim,
//               write the job's bytes to a printer, report (as bridge_agent/ does).
//   SerialPrinter, UsbPrinter   printers reached through WebSerial and WebUSB.
export { CALL_TIMEOUT_MS, Client, PrintrelayError, request } from "./client.js";
export {
  BridgeState,
  HEARTBEAT_INTERVAL_S,
  STORAGE_PREFIX,
  WebBridge,
  savedBridges,
  storageKey,
} from "./web-bridge.js";
export { SerialPrinter, UsbPrinter } from "./printers.js";
