// Injected into every page of the browser tests (page.add_init_script): a fake WebSerial port
// and a fake WebUSB printer, the only parts no test machine has. Each write's bytes are kept
// in window.__printed (one array of byte values per write); window.__printerFails = "message"
// makes the next writes throw that message, as a printer that went away would;
// window.__printerHangs = true makes them never finish (a tab closed mid-write).
(() => {
  window.__printed = [];
  window.__printerFails = null;
  window.__printerHangs = false;
  const record = (data) => {
    if (window.__printerHangs) return new Promise(() => {});
    if (window.__printerFails) throw new DOMException(window.__printerFails, "NetworkError");
    window.__printed.push(Array.from(new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength)));
  };
  const port = {
    opened: null,
    async open(options) { this.opened = options; window.__serialOpened = options; },
    async close() {},
    getInfo() { return { usbVendorId: 0x04b8, usbProductId: 0x0e28 }; },
    writable: {
      getWriter() {
        return { async write(chunk) { await record(chunk); }, releaseLock() {} };
      },
    },
  };
  Object.defineProperty(navigator, "serial", {
    configurable: true,
    value: { async requestPort() { return port; }, async getPorts() { return [port]; } },
  });
  const endpoint = { endpointNumber: 1, direction: "out", type: "bulk" };
  const usbDevice = {
    productName: "TM-T20III (fake)", vendorId: 0x04b8, productId: 0x0e28, configuration: null,
    async open() {},
    async close() {},
    async selectConfiguration() {
      this.configuration = { interfaces: [{ interfaceNumber: 0, alternates: [{ endpoints: [endpoint] }] }] };
    },
    async claimInterface(n) { window.__usbClaimed = n; },
    async releaseInterface() {},
    async transferOut(endpointNumber, data) {
      await record(data);
      return { status: "ok", bytesWritten: data.byteLength };
    },
  };
  Object.defineProperty(navigator, "usb", {
    configurable: true,
    value: { async requestDevice() { return usbDevice; }, async getDevices() { return [usbDevice]; } },
  });
})();
