// The console's live job list (REST snapshot, then print_job.updated) with Reprint for failed
// and unconfirmed jobs, and the receipt preview of a chosen job (its PNG, or its text).
import { t } from "./text.js";
import { $, age, announce, el, explain, say, short } from "./ui.js";

export const MAX_JOBS_SHOWN = 50;
const REPRINTABLE = new Set(["failed", "unconfirmed"]);
const NEEDS_A_PERSON = new Set(["failed", "unconfirmed", "expired"]);

const jobs = new Map(); // id -> Job
let client = null;
let locationId = null;
let stationName = (id) => id;
let previewUrl = null;
let selectedJobId = null;

/** Starts afresh for a location; stationNameOf(id or null) names a job's station. */
export function showJobsOf(newClient, newLocationId, stationNameOf) {
  client = newClient;
  locationId = newLocationId;
  stationName = stationNameOf;
  jobs.clear();
  clearPreview();
  renderJobs();
}

/** A job from REST or from an event: the newer of what is known wins (by updated_at). */
export function keepJob(job) {
  const known = jobs.get(job.id);
  if (!known || Date.parse(job.updated_at) >= Date.parse(known.updated_at)) jobs.set(job.id, job);
}

export function onJob(job) {
  if (job.location_id !== locationId) return;
  keepJob(job);
  renderJobs();
  if (NEEDS_A_PERSON.has(job.status)) announce(t("jobChanged", short(job.id), t(`status_${job.status}`)));
}

export function renderJobs() {
  const newest = [...jobs.values()]
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))
    .slice(0, MAX_JOBS_SHOWN);
  for (const job of jobs.values()) if (!newest.includes(job)) jobs.delete(job.id);
  $("jobs").replaceChildren(...newest.map(jobRow));
  markSelected();
  $("no-jobs").hidden = newest.length > 0;
}

export function tickAges() {
  for (const cell of document.querySelectorAll("td.age")) cell.textContent = age(cell.dataset.created);
}

function jobRow(job) {
  const open = el("button", { type: "button", className: "link", textContent: short(job.id) });
  open.addEventListener("click", () => showPreview(job));
  let reprint = null;
  if (REPRINTABLE.has(job.status)) {
    reprint = el("button", { type: "button", className: "secondary small", textContent: t("reprint") });
    reprint.setAttribute("aria-describedby", `job-${job.id}`);
    reprint.addEventListener("click", () => reprintJob(job));
  }
  const statusText = t(`status_${job.status}`) + (job.error ? ` — ${job.error}` : "");
  return el(
    "tr",
    { id: `job-${job.id}`, dataset: { jobId: job.id, status: job.status } },
    el("td", {}, open),
    el("td", { textContent: stationName(job.station_id) }),
    el(
      "td",
      {},
      el("span", { className: "status", dataset: { status: job.status }, textContent: statusText }),
      job.reprint_of ? el("span", { className: "muted reprint-of", textContent: t("reprintOf", short(job.reprint_of)) }) : null,
    ),
    el("td", { className: "age", dataset: { created: job.created_at }, textContent: age(job.created_at) }),
    el("td", {}, reprint),
  );
}

async function reprintJob(job) {
  try {
    const copy = await client.reprintJob(job.id);
    keepJob(copy);
    renderJobs();
    announce(t("reprinted", short(copy.id)));
    say("");
  } catch (err) {
    say(explain(err));
  }
}

function markSelected() {
  for (const row of $("jobs").rows) {
    if (row.dataset.jobId === selectedJobId) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
}

export function clearPreview() {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  selectedJobId = null;
  $("preview-caption").hidden = true;
  $("preview-image").hidden = true;
  $("preview-image").removeAttribute("src");
  $("preview-text").hidden = true;
  $("preview-empty").hidden = false;
}

async function showPreview(job) {
  clearPreview();
  selectedJobId = job.id;
  markSelected();
  $("preview-empty").hidden = true;
  $("preview-caption").textContent = t("previewOf", short(job.id), stationName(job.station_id), job.paper_width_mm);
  $("preview-caption").hidden = false;
  const text = $("preview-text");
  if (job.raw) {
    text.textContent = t("notRenderable");
    text.hidden = false;
    return;
  }
  try {
    const png = await client.renderJob(job.id, "png");
    if (selectedJobId !== job.id) return; // another job was chosen meanwhile
    previewUrl = URL.createObjectURL(png);
    const image = $("preview-image");
    image.alt = t("receiptAlt", short(job.id));
    image.src = previewUrl;
    image.hidden = false;
  } catch (pngError) {
    let paper;
    try {
      paper = await client.renderJob(job.id, "text"); // the paper as text, then
    } catch {
      paper = explain(pngError);
    }
    if (selectedJobId !== job.id) return;
    text.textContent = paper;
    text.hidden = false;
  }
}
