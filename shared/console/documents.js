// The document list: counts by status, filters, sort, pages, and each document's actions.

import { api } from "./api.js";
import { $, el, formatBytes, notify } from "./dom.js";
import { showStatus } from "./upload.js";

const PAGE_SIZE = 20;
const STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED"];
let offset = 0;
let pending;

function filters() {
  const params = Object.fromEntries(new FormData($("#filters")));
  for (const [name, value] of Object.entries(params)) if (!value) delete params[name];
  return { ...params, limit: PAGE_SIZE, offset };
}

// Many events arrive at once while documents process: one listing for each burst.
export function refreshDocuments() {
  clearTimeout(pending);
  pending = setTimeout(() => loadDocuments().catch((e) => notify(e.message)), 150);
}

export async function loadDocuments() {
  const page = await api.list(filters());
  renderCounts(page.counts);
  // The listing also settles any upload whose change the stream delivered before its answer.
  for (const d of page.documents) showStatus(d.id, d.status, d.failReason);
  $("#document-table tbody").replaceChildren(...page.documents.map(row));
  if (!page.documents.length) {
    $("#document-table tbody").append(el("tr", {}, el("td", { colspan: 7 }, "No documents yet.")));
  }
  const last = Math.min(offset + PAGE_SIZE, page.total);
  $("#page-label").textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : "";
  $("#previous-page").disabled = offset === 0;
  $("#next-page").disabled = last >= page.total;
}

function renderCounts(counts) {
  const chosen = $("#filters").elements.status.value;
  const button = (label, status, count) =>
    el("button", { type: "button", "aria-pressed": String(chosen === status), onclick: () => chooseStatus(status) },
      `${label} ${count}`);
  $("#counts").replaceChildren(
    button("All", "", counts.total),
    ...STATUSES.map((s) => button(s[0] + s.slice(1).toLowerCase(), s, counts[s.toLowerCase()])),
  );
}

function chooseStatus(status) {
  $("#filters").elements.status.value = status;
  offset = 0;
  refreshDocuments();
}

function row(d) {
  const failure = d.failReason ? ` (${d.failReason})` : "";
  return el("tr", { "data-id": d.id },
    el("td", { class: "name" }, el("a", { href: `#/documents/${d.id}` }, d.filename)),
    el("td", {}, d.format),
    el("td", {}, formatBytes(d.fileSize)),
    el("td", { class: `status-${d.status}`, title: d.failMessage ?? "" }, d.status + failure),
    el("td", {}, d.chunkCount ?? "–"),
    el("td", {}, el("input", {
      type: "checkbox", checked: d.isActive, disabled: d.status !== "COMPLETED",
      "aria-label": `Enabled: ${d.filename}`, onchange: (e) => act(api.setActive(d.id, e.target.checked)),
    })),
    el("td", {}, el("div", { class: "actions" },
      d.status === "FAILED" && el("button", { type: "button", onclick: () => act(api.retry(d.id)) }, "Retry"),
      el("button", { type: "button", class: "quiet", onclick: () => remove(d) }, "Delete"),
    )),
  );
}

async function act(change) {
  try {
    await change;
  } catch (e) {
    notify(e.message);
  }
  refreshDocuments();
}

function remove(d) {
  if (confirm(`Delete ${d.filename} and its chunks?`)) act(api.remove(d.id));
}

export function setUpDocuments() {
  $("#filters").addEventListener("input", () => {
    offset = 0;
    refreshDocuments();
  });
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  $("#previous-page").addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    refreshDocuments();
  });
  $("#next-page").addEventListener("click", () => {
    offset += PAGE_SIZE;
    refreshDocuments();
  });
}
