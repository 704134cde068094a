// Small helpers the console's modules share: the message and announce regions, errors in
// words, element building, times.
import { PrintrelayError } from "/sdk/printrelay.js";
import { currentLanguage, t } from "./text.js";

export const $ = (id) => document.getElementById(id);
export const short = (id) => id.slice(0, 8);

/** An error or a hint, in the assertive region under the header. */
export function say(text) {
  $("message").textContent = text;
}

/** A status change, in the polite region (role=status) that screen readers read out. */
export function announce(text) {
  $("announce").textContent = text;
}

export function explain(err) {
  return err instanceof PrintrelayError ? `${err.message} (${err.code})` : err.message;
}

/** el("button", {type: "button", textContent: "Unpair", dataset: {id}}, ...children) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function timeOf(iso) {
  return new Date(iso).toLocaleTimeString(currentLanguage());
}

export function age(iso) {
  return t("ago", Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)));
}
