// Building the page from data without ever parsing it as HTML: every text is a text node.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

export const $ = (selector) => document.querySelector(selector);

export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

// The words of a question worth marking: letters and digits, two or more of them.
export function questionWords(question) {
  return [...new Set(question.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])];
}

// The passage as text nodes, with each of the question's words (and words it starts) marked.
export function highlighted(text, words) {
  if (!words.length) return [text];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join("|")})[\\p{L}\\p{N}]*`, "giu");
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index), el("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

// Where a chunk came from, as a reader cites it: file, page, heading path.
export function citation(filename, metadata) {
  const parts = [filename];
  if (metadata.page != null) parts.push(`p. ${metadata.page}`);
  const path = headingPath(metadata);
  if (path) parts.push(path);
  return parts.join(" · ");
}

// The headings above a chunk, outermost first ("" when it has none).
export function headingPath(metadata) {
  const path = metadata.breadcrumbs?.length ? metadata.breadcrumbs : metadata.heading ? [metadata.heading] : [];
  return path.join(" › ");
}

let noticeTimer;
export function notify(message) {
  const notice = $("#notice");
  notice.textContent = message;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 8000);
}
