// One document: its processed text cut at the chunk boundaries, each chunk with its page,
// heading path and token count.

import { api } from "./api.js";
import { $, el, formatBytes, headingPath } from "./dom.js";

function chunkItem(chunk) {
  const m = chunk.metadata;
  const where = [`Chunk ${chunk.index + 1}`];
  if (m.page != null) where.push(`page ${m.page}`);
  if (headingPath(m)) where.push(headingPath(m));
  where.push(`${m.tokenCount} tokens`);
  return el("li", { id: `chunk-${chunk.index}`, tabindex: "-1" },
    el("p", { class: "meta" }, where.join(" · ")),
    el("p", { class: "passage" }, chunk.content),
  );
}

export async function showDocument(id, chunkIndex) {
  const document = await api.get(id);
  $("#document-title").textContent = document.filename;
  const summary = [document.format, formatBytes(document.fileSize), document.status];
  if (document.chunkCount != null) summary.push(`${document.chunkCount} chunks`);
  if (document.failReason) summary.push(`${document.failReason}: ${document.failMessage ?? ""}`);
  $("#document-summary").textContent = summary.join(" · ");
  if (!document.hasProcessedContent) {
    $("#chunks").replaceChildren();
    return;
  }
  const content = await api.content(id);
  $("#chunks").replaceChildren(...content.chunks.map(chunkItem));
  const cited = chunkIndex == null ? null : $(`#chunk-${chunkIndex}`);
  if (cited) {
    cited.classList.add("focused");
    cited.scrollIntoView({ block: "start" });
    cited.focus({ preventScroll: true });
  }
}
