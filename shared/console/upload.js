// Uploads: files and folders dropped or chosen, a few at a time, each with the server's answer and
// then its document's status as it changes.

import { api } from "./api.js";
import { $, el } from "./dom.js";

const AT_ONCE = 3;
const tracked = new Map(); // document id → its upload's status cell

export const uploadsInProgress = () => [...tracked.keys()];

export function showStatus(id, status, detail) {
  const cell = tracked.get(id);
  if (!cell) return;
  cell.textContent = status + (detail ? ` (${detail})` : "");
  cell.className = `status-${status}`;
  if (status === "COMPLETED" || status === "FAILED") tracked.delete(id);
}

function answerOf(error) {
  const existing = error.body.existingId;
  if (existing) {
    return ["Already uploaded: ", el("a", { href: `#/documents/${existing}` }, "see the document")];
  }
  if (error.status === 413) return [`Too large: ${error.message}`];
  return [`${error.code}: ${error.message}`];
}

async function uploadOne({ file, name }, onChange) {
  const status = el("span", {}, "Uploading…");
  const item = el("li", {}, el("span", { class: "name" }, name), status);
  $("#uploads").prepend(item);
  try {
    const answer = await api.upload(file, file.name);
    const state = el("span", { class: "status-" + answer.status }, answer.status);
    status.replaceWith(state, el("a", { href: `#/documents/${answer.id}` }, "open"));
    tracked.set(answer.id, state);
  } catch (error) {
    status.replaceChildren(...answerOf(error));
    status.className = error.status === 409 ? "" : "error";
  }
  onChange();
}

async function uploadAll(files, onChange) {
  const queue = [...files];
  const worker = async () => {
    while (queue.length) await uploadOne(queue.shift(), onChange);
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, queue.length) }, worker));
}

// A dropped folder's files, at any depth (directory readers answer in batches).
async function filesOf(entry, path = "") {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, name: path + file.name }];
  }
  const reader = entry.createReader();
  const found = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return found;
    for (const child of batch) found.push(...(await filesOf(child, `${path}${entry.name}/`)));
  }
}

async function dropped(transfer) {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...transfer.files].map((file) => ({ file, name: file.name }));
  return (await Promise.all(entries.map((entry) => filesOf(entry)))).flat();
}

export function setUpUploads(onChange) {
  const zone = $("#drop-zone");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadAll(await dropped(e.dataTransfer), onChange);
  });
  zone.addEventListener("keydown", (e) => {
    if (e.target === zone && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      $("#file-input").click();
    }
  });
  for (const input of [$("#file-input"), $("#folder-input")]) {
    input.addEventListener("change", () => {
      const files = [...input.files].map((file) => ({ file, name: file.webkitRelativePath || file.name }));
      input.value = "";
      uploadAll(files, onChange);
    });
  }
}
