// The /v1 API as the console uses it: JSON requests with the optional
// bearer token, errors in the server's one shape, and server-sent events
// read with fetch and a stream reader. EventSource cannot send the token
// nor POST, so it is not used.

import { state, t } from "./page.js";

export const enc = encodeURIComponent;

/** An error answered by the server (or the network), ready to show. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  return headers;
}

/**
 * Sends a request; resolves to the response, or throws an ApiError. A
 * `Blob` body (a chosen file) is sent as its bytes, anything else as JSON.
 */
export async function request(method, path, body, accept = "application/json", signal) {
  const init = { method, headers: authHeaders({ Accept: accept }), signal };
  if (body instanceof Blob) {
    init.headers["Content-Type"] = "application/octet-stream";
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, "network", t("error.network"));
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** Sends a request; resolves to the JSON answer, or throws an ApiError. */
export async function api(method, path, body) {
  return (await request(method, path, body)).json();
}

/** The ApiError for a failed response, from its `{"error":…}` body. */
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status says enough.
  }
  const error = body?.error ?? {};
  const code = error.code ?? `http_${response.status}`;
  if (response.status === 401 && !state.token) {
    return new ApiError(401, code, t("error.token"));
  }
  const message = error.message ?? t("error.status", { status: response.status });
  return new ApiError(response.status, code, message);
}

/** Calls `onEvent({name, data})` for each server-sent event of `response`. */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) onEvent(event);
    }
  }
}

/** One SSE frame; `null` for a comment or keep-alive. */
function parseFrame(frame) {
  let name = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { name, data: JSON.parse(data.join("\n")) };
  } catch {
    return { name, data: { text: data.join("\n") } };
  }
}

/** The open conversation's messages. */
export const chatPath = () =>
  `/v1/conversations/${enc(state.user)}/${enc(state.persona.id)}/messages`;

/** The greeting the open user sees from the open persona. */
export const greetingPath = () =>
  `/v1/conversations/${enc(state.user)}/${enc(state.persona.id)}/greeting`;

/** The open user's settings. */
export const userPath = () => `/v1/users/${enc(state.user)}`;
