// Printers a web bridge writes to: WebSerial and WebUSB. Any object {name, async write(bytes)}
// will do as well. Part of the SDK: import it from ./printrelay.js.

/** A printer on a serial port (or a USB printer's virtual COM port) through WebSerial. */
export class SerialPrinter {
  constructor(port, name = "Serial printer") {
    this.port = port;
    this.name = name;
  }
  /** Shows the browser's port picker: call it from a click. */
  static async request({ baudRate = 9600 } = {}) {
    const port = await navigator.serial.requestPort();
    await port.open({ baudRate });
    const info = port.getInfo?.() ?? {};
    const id = info.usbVendorId ? ` ${hex4(info.usbVendorId)}:${hex4(info.usbProductId)}` : "";
    return new SerialPrinter(port, `Serial printer${id}`);
  }
  async write(bytes) {
    const writer = this.port.writable.getWriter();
    try {
      await writer.write(bytes);
    } finally {
      writer.releaseLock();
    }
  }
  async close() {
    await this.port.close();
  }
}

/** A USB printer class device (or any with a bulk OUT endpoint) through WebUSB. */
export class UsbPrinter {
  constructor(device, interfaceNumber, endpointNumber) {
    this.device = device;
    this.interfaceNumber = interfaceNumber;
    this.endpointNumber = endpointNumber;
    this.name = device.productName || `USB printer ${hex4(device.vendorId)}:${hex4(device.productId)}`;
  }
  /** Shows the browser's device picker: call it from a click. No filter by default: many
   *  receipt printers declare a vendor class, not the USB printer class (7). */
  static async request({ filters = [] } = {}) {
    const device = await navigator.usb.requestDevice({ filters });
    await device.open();
    if (device.configuration === null) await device.selectConfiguration(1);
    for (const iface of device.configuration.interfaces) {
      for (const alternate of iface.alternates) {
        const out = alternate.endpoints.find((e) => e.direction === "out" && e.type === "bulk");
        if (out) {
          await device.claimInterface(iface.interfaceNumber);
          return new UsbPrinter(device, iface.interfaceNumber, out.endpointNumber);
        }
      }
    }
    await device.close();
    throw new Error("This USB device has no bulk OUT endpoint: it is not a printer.");
  }
  async write(bytes) {
    const result = await this.device.transferOut(this.endpointNumber, bytes);
    if (result.status !== "ok") throw new Error(`USB transfer ${result.status}`);
  }
  async close() {
    await this.device.releaseInterface(this.interfaceNumber);
    await this.device.close();
  }
}

function hex4(n) {
  return Number(n ?? 0).toString(16).padStart(4, "0");
}
