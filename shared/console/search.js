// Search: the question and its options, and each passage found with its words marked, its score
// and a citation that opens the document at that chunk.

import { api } from "./api.js";
import { $, citation, el, highlighted, notify, questionWords } from "./dom.js";

function requestOf(form) {
  const data = new FormData(form);
  const body = { query: data.get("query"), mode: data.get("mode"), topK: Number(data.get("topK") || 5) };
  if (body.mode === "hybrid") body.alpha = Number(data.get("alpha"));
  const formats = data.getAll("formats");
  if (formats.length) body.formats = formats;
  const documentIds = data.getAll("documentIds");
  if (documentIds.length) body.documentIds = documentIds;
  return body;
}

function resultItem(result, words) {
  const m = result.metadata;
  const scores = [`score ${result.score.toFixed(3)}`];
  if (result.vectorScore != null) {
    scores.push(`vector ${result.vectorScore.toFixed(4)}`, `keyword ${result.keywordScore.toFixed(4)}`);
  }
  return el("li", {},
    el("p", { class: "meta" },
      el("a", { href: `#/documents/${result.documentId}/chunks/${m.chunkIndex}`, class: "citation" },
        citation(result.filename, m)),
      " · " + scores.join(" · ")),
    el("p", { class: "passage" }, highlighted(result.content, words)),
  );
}

async function search(form) {
  const body = requestOf(form);
  $("#search-summary").textContent = "Searching…";
  try {
    const answer = await api.query(body);
    const words = questionWords(body.query);
    $("#results").replaceChildren(...answer.results.map((r) => resultItem(r, words)));
    const n = answer.results.length;
    $("#search-summary").textContent = `${n} ${n === 1 ? "passage" : "passages"} (${answer.mode})`;
  } catch (e) {
    $("#search-summary").textContent = "";
    notify(e.message);
  }
}

// The documents a search may be limited to: the completed ones (the first hundred by name).
export async function loadSearchableDocuments() {
  const page = await api.list({ status: "COMPLETED", sortBy: "filename", sortOrder: "asc", limit: 100 });
  const select = $("#search-documents");
  const chosen = new Set([...select.selectedOptions].map((o) => o.value));
  select.replaceChildren(
    ...page.documents.map((d) => el("option", { value: d.id, selected: chosen.has(d.id) }, d.filename)),
  );
}

export function setUpSearch() {
  const form = $("#search-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    search(form);
  });
  form.addEventListener("change", () => {
    $("#alpha").disabled = form.elements.mode.value !== "hybrid";
  });
  $("#alpha").addEventListener("input", () => ($("#alpha-value").textContent = $("#alpha").value));
}
