// The console's pages (by the address's #fragment), the key prompt, and live updates: the
// server's event stream where it has one, polling where it has not.

import { apiKey, api, documentEvents, whenUnauthorized } from "./api.js";
import { $, notify } from "./dom.js";
import { loadDocuments, refreshDocuments, setUpDocuments } from "./documents.js";
import { loadSearchableDocuments, setUpSearch } from "./search.js";
import { setUpUploads, showStatus, uploadsInProgress } from "./upload.js";
import { showDocument } from "./view.js";

const POLL_MS = 2000;
let events = null;
let polling = null;

function show(page) {
  for (const id of ["documents-page", "document-page", "search-page"]) $("#" + id).hidden = id !== page;
  const section = page === "search-page" ? "search" : "documents";
  for (const name of ["documents", "search"]) {
    const link = $("#nav-" + name);
    if (name === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  const [, page, id, , chunk] = location.hash.split("/");
  try {
    if (page === "search") {
      show("search-page");
      await loadSearchableDocuments();
    } else if (page === "documents" && id) {
      show("document-page");
      await showDocument(id, chunk == null ? null : Number(chunk));
    } else {
      show("documents-page");
      await loadDocuments();
    }
    follow();
  } catch (e) {
    if (e.status !== 401) notify(e.message);
  }
}

function onEvent({ type, payload }) {
  if (type === "document:status") showStatus(payload.id, payload.status, payload.error);
  if (!$("#documents-page").hidden) refreshDocuments();
  const [, page, id] = location.hash.split("/");
  if (page === "documents" && id === payload.id && type !== "document:deleted") route();
}

// Live updates once the server has let us in: the event stream, or polling without one.
function follow() {
  if (events || polling) return;
  events = documentEvents(onEvent, () => {
    events = null;
    polling = setInterval(poll, POLL_MS);
  });
}

async function poll() {
  const ids = uploadsInProgress();
  if (!ids.length) return;
  for (const id of ids) {
    const d = await api.get(id).catch(() => null);
    if (d) showStatus(d.id, d.status, d.failReason);
  }
  if (!$("#documents-page").hidden) refreshDocuments();
}

function askForKey(reason) {
  $("#key-reason").textContent = reason;
  $("#key-input").value = "";
  if (!$("#key-dialog").open) $("#key-dialog").showModal();
}

function setUpKey() {
  whenUnauthorized(() =>
    askForKey(apiKey.get() ? "The server refused this key. Enter another." : "This server asks for an API key."),
  );
  $("#key-button").addEventListener("click", () => askForKey("The key this tab sends to the server."));
  $("#key-dialog").addEventListener("close", () => {
    if ($("#key-dialog").returnValue !== "save") return;
    apiKey.set($("#key-input").value.trim());
    events?.close();
    events = null;
    route();
  });
}

setUpKey();
setUpDocuments();
setUpUploads(refreshDocuments);
setUpSearch();
window.addEventListener("hashchange", route);
route();
