// The console's two dialogs: Connect printer (a pairing code, its expiry, the agent's command
// and the web bridge's link with a QR code) and the Unpair confirmation. Modal <dialog>s: focus
// moves in on open and back to the button that opened them on close.
import { currentLanguage, t } from "./text.js";
import { $, announce, explain, say } from "./ui.js";

const QR_PAPER_MM = 58; // the narrower paper: the smallest picture holding the code

let opener = null;
let pairing = null; // {client, locationId, stationId}
let qrUrl = null;
let unpairing = null; // {client, device, onUnpaired}

let openerKey = null; // the opener's data-focus-key: the cards may be drawn anew meanwhile

function open(dialog, focus) {
  opener = document.activeElement;
  openerKey = opener?.dataset?.focusKey ?? null;
  dialog.showModal();
  focus.focus();
}

for (const dialog of [$("connect-dialog"), $("unpair-dialog")]) {
  dialog.addEventListener("close", () => {
    // A refresh may have replaced the opener with a new button for the same thing; an Unpair
    // button leaves with its device, and then nothing takes the focus back.
    const target = opener?.isConnected
      ? opener
      : openerKey && document.querySelector(`[data-focus-key="${CSS.escape(openerKey)}"]`);
    target?.focus();
    opener = null;
    openerKey = null;
  });
}

// -- Connect printer -------------------------------------------------------------------------

export function openConnectDialog({ client, locationId, stationId, title }) {
  pairing = { client, locationId, stationId };
  $("connect-heading").textContent = title;
  open($("connect-dialog"), $("connect-close"));
  newCode();
}

function chosenKind() {
  return document.querySelector("#connect-dialog input[name=kind]:checked").value;
}

function clearCode() {
  if (qrUrl) URL.revokeObjectURL(qrUrl);
  qrUrl = null;
  $("pairing-code").textContent = "…";
  $("pairing-expiry").textContent = "";
  $("bridge-qr").hidden = true;
  $("bridge-qr").removeAttribute("src");
  $("bridge-link").href = "/bridge/";
  $("pair-command").value = "";
}

async function newCode() {
  const { client, locationId, stationId } = pairing;
  const kind = chosenKind();
  clearCode();
  $("web-way").hidden = kind !== "web_bridge";
  $("agent-way").hidden = kind !== "print_bridge";
  let created;
  try {
    created = await client.createPairingCode({ locationId, stationId, kind });
  } catch (err) {
    $("pairing-code").textContent = "";
    $("pairing-expiry").textContent = explain(err);
    return;
  }
  const { code, expires_at: expiresAt } = created;
  const link = new URL(`/bridge/#code=${encodeURIComponent(code)}`, location.origin).href;
  $("pairing-code").textContent = code;
  $("pairing-expiry").textContent = t(
    "expires",
    new Date(expiresAt).toLocaleTimeString(currentLanguage(), { hour: "2-digit", minute: "2-digit" }),
  );
  $("bridge-link").href = link;
  $("pair-command").value = `printrelay-bridge pair --server ${location.origin} --code ${code}`;
  if (kind === "web_bridge") showQr(client, link, code);
}

async function showQr(client, link, code) {
  // Drawn by the server's own renderer (the one that prints QR blocks on paper): no QR library
  // to vendor, and what a phone scans here is what the printer would print.
  try {
    const png = await client.renderDocument(
      { blocks: [{ type: "qr", data: link }] },
      { format: "png", paperWidthMm: QR_PAPER_MM },
    );
    if ($("pairing-code").textContent !== code) return; // a newer code replaced this one
    qrUrl = URL.createObjectURL(png);
    const image = $("bridge-qr");
    image.alt = t("qrAlt");
    image.src = qrUrl;
    image.hidden = false;
  } catch {
    // The link above does the same job; a missing picture is not worth an error.
  }
}

for (const radio of document.querySelectorAll("#connect-dialog input[name=kind]")) {
  radio.addEventListener("change", newCode);
}
$("new-code").addEventListener("click", newCode);
$("connect-close").addEventListener("click", () => $("connect-dialog").close());
$("connect-dialog").addEventListener("close", () => {
  clearCode();
  pairing = null;
});

$("copy-command").addEventListener("click", async () => {
  const command = $("pair-command");
  try {
    await navigator.clipboard.writeText(command.value);
    announce(t("copied"));
  } catch {
    command.select(); // no clipboard permission: leave it selected for Ctrl+C
    announce(t("copyByHand"));
  }
});

// -- Unpair ----------------------------------------------------------------------------------

export function openUnpairDialog({ client, device, onUnpaired }) {
  unpairing = { client, device, onUnpaired };
  $("unpair-heading").textContent = t("unpairQuestion", device.name);
  open($("unpair-dialog"), $("unpair-cancel"));
}

$("unpair-cancel").addEventListener("click", () => $("unpair-dialog").close());

$("unpair-confirm").addEventListener("click", async () => {
  const { client, device, onUnpaired } = unpairing;
  const button = $("unpair-confirm");
  button.disabled = true;
  try {
    await client.unpairDevice(device.id);
    $("unpair-dialog").close();
    onUnpaired(device);
  } catch (err) {
    $("unpair-dialog").close();
    say(explain(err));
  } finally {
    button.disabled = false;
  }
});
