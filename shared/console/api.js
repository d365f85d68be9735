// The HTTP API as the console uses it: the key kept for this tab, JSON in and out, and errors
// carrying the server's code and message.

const KEY = "ragbase.apiKey";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `The server answered ${status}`);
    this.status = status;
    this.code = body?.error ?? "HTTP_" + status;
    this.body = body ?? {};
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY) ?? "",
  set: (key) => (key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY)),
};

// Called with the error when the server refuses the key, so the page can ask for one.
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export async function request(method, path, { json, form } = {}) {
  const headers = {};
  const key = apiKey.get();
  if (key) headers["X-API-Key"] = key;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(path, { method, headers, body });
  const text = await response.text();
  const parsed = text && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!response.ok) {
    const error = new ApiError(response.status, typeof parsed === "object" ? parsed : null);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return parsed;
}

export const api = {
  list: (params) => request("GET", "/api/documents?" + new URLSearchParams(params)),
  get: (id) => request("GET", `/api/documents/${id}`),
  content: (id) => request("GET", `/api/documents/${id}/content?format=json`),
  remove: (id) => request("DELETE", `/api/documents/${id}`),
  retry: (id) => request("POST", `/api/documents/${id}/retry`),
  setActive: (id, isActive) => request("PATCH", `/api/documents/${id}/availability`, { json: { isActive } }),
  query: (body) => request("POST", "/api/query", { json: body }),
  upload(file, name) {
    const form = new FormData();
    form.append("file", file, name);
    return request("POST", "/api/documents", { form });
  },
};

// Every change to any document, as server-sent events, or null where the server has no stream
// (the Lambda functions): the caller then polls.
export function documentEvents(onEvent, onUnavailable) {
  const key = apiKey.get();
  const url = "/api/events" + (key ? "?apiKey=" + encodeURIComponent(key) : "");
  const source = new EventSource(url);
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  source.onerror = () => {
    // A network blip reconnects by itself; a refusal (404, 401) closes the stream for good.
    if (source.readyState === EventSource.CLOSED) onUnavailable();
  };
  return source;
}
