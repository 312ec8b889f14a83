// The Troupe web console: chat with a persona through the /v1 API of the
// server that serves this page.
//
// Replies and follow-ups are read as server-sent events with fetch and a
// stream reader (not EventSource), so the optional bearer token goes in a
// header and chat can POST. Every text from a user, a persona or the server
// is put in the page with textContent, never parsed as HTML.

const PAGE_SIZE = 25;
const USER_ID = /^[A-Za-z0-9_@-][A-Za-z0-9._@-]{0,63}$/;
const RETRY_MAX_MS = 30000;

/** What the page shows now. */
const state = {
  strings: { en: {} },
  lang: "en",
  personas: [],
  persona: null,
  user: "",
  token: sessionStorage.getItem("troupe.token") ?? "",
  before: null,
  sending: false,
  events: null,
  generation: 0,
  wanted: "",
};

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

/** A new element with a class and text (as text, never HTML). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// ---- Interface strings -------------------------------------------------

/** The interface string `key` in the page's language, with `{name}`s filled. */
function t(key, vars = names()) {
  const own = state.strings[state.lang] ?? {};
  const template = own[key] ?? state.strings.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? String(vars[name]) : whole,
  );
}

function names() {
  return { name: state.persona?.name ?? "", user: state.user };
}

/** The interface language for a persona's language code: its own if known. */
function languageOf(code) {
  const primary = String(code ?? "en").split("-")[0].toLowerCase();
  return primary in state.strings ? primary : "en";
}

function applyStrings() {
  document.documentElement.lang = state.lang;
  document.title = state.persona
    ? `${t("chat.title")} · ${t("app.title")}`
    : t("app.title");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll("[data-i18n-title]")) {
    node.title = t(node.dataset.i18nTitle);
  }
  $("chat-title").textContent = state.persona ? t("chat.title") : "";
  $("settings-title").textContent = t("settings.title");
  $("explain-title").textContent = t("creator.explain");
  $("browser-zone").textContent = t("settings.browser_zone", { zone: browserZone() });
  showLive();
}

// ---- The API -----------------------------------------------------------

/** An error answered by the server (or the network), ready to show. */
class ApiError extends Error {
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

/** Sends a request; resolves to the response, or throws an ApiError. */
async function request(method, path, body, accept = "application/json", signal) {
  const init = { method, headers: authHeaders({ Accept: accept }), signal };
  if (body !== undefined) {
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

async function api(method, path, body) {
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
async function readEvents(response, onEvent) {
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

const chatPath = () =>
  `/v1/conversations/${enc(state.user)}/${enc(state.persona.id)}/messages`;
const userPath = () => `/v1/users/${enc(state.user)}`;

// ---- Status line -------------------------------------------------------

function say(message, kind = "info") {
  const node = $("status");
  node.textContent = message;
  node.dataset.kind = kind;
}

function fail(error) {
  say(error?.message ?? String(error), "error");
  if (error?.status === 401) $("token").focus();
}

// ---- The conversation log ---------------------------------------------

/** Adds `node` at the end of the log, following it if the reader was at the end. */
function append(node) {
  const log = $("log");
  const follow = atEnd(log);
  log.append(node);
  if (follow) log.scrollTop = log.scrollHeight;
}

function atEnd(log) {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function when(at) {
  const date = at ? new Date(at) : new Date();
  const format = new Intl.DateTimeFormat(state.lang, {
    dateStyle: "medium",
    timeStyle: "short",
  });
  return format.format(date);
}

function userBubble(text, at) {
  const node = el("article", "msg user");
  node.dataset.kind = "user";
  node.append(el("header", "who", t("who.you")), el("p", "text", text));
  node.append(el("footer", "meta", when(at)));
  return node;
}

/**
 * The persona's words. `tag` is `reply`, `followup` or `greeting`; a
 * streaming bubble is finished later with `finishPersona`.
 */
function personaBubble({ name, text, tag = "reply", streaming = false, ...rest }) {
  const node = el("article", `msg persona ${tag}`);
  node.dataset.kind = tag;
  const who = el("header", "who", name ?? state.persona?.name);
  who.append(" ", el("span", "tag", t("tag.ai")));
  if (tag === "followup") who.append(" ", el("span", "tag followup", t("tag.followup")));
  if (tag === "greeting") who.append(" ", el("span", "tag", t("tag.greeting")));
  node.append(who, el("p", "text", text ?? ""));
  if (streaming) node.setAttribute("aria-busy", "true");
  else if (tag !== "greeting") finishPersona(node, rest);
  return node;
}

/** Ends a persona bubble: the final text, disclaimers apart, then the meta line. */
function finishPersona(node, { text, disclaimers, model, at, interrupted, truncated }) {
  if (text !== undefined) node.querySelector(".text").textContent = text;
  node.removeAttribute("aria-busy");
  if (disclaimers?.length) node.append(disclaimerBox(disclaimers));
  const meta = [when(at)];
  if (model) meta.push(t("meta.model", { model }));
  if (interrupted) meta.push(t("meta.interrupted"));
  if (truncated) meta.push(t("meta.truncated"));
  node.append(el("footer", "meta", meta.join(" · ")));
}

function disclaimerBox(list) {
  const box = el("aside", "disclaimers");
  box.setAttribute("aria-label", t("disclaimers"));
  box.append(el("p", "disclaimers-title", t("disclaimers")));
  const items = el("ul");
  for (const text of list) items.append(el("li", "", text));
  box.append(items);
  return box;
}

/**
 * Troupe's own words, never the persona's: `crisis` (helplines), `control`
 * (STOP/START confirmation), `refusal` or `error`.
 */
function troupeBubble(kind, text, disclaimers) {
  const node = el("article", `msg troupe ${kind}`);
  node.dataset.kind = kind;
  const who = el("header", "who", kind === "crisis" ? t("who.safety") : t("who.troupe"));
  if (state.persona) who.append(" ", el("span", "not", `(${t("who.not_persona")})`));
  node.append(who, el("p", "text", text));
  if (disclaimers?.length) node.append(disclaimerBox(disclaimers));
  const meta = [when()];
  if (kind === "refusal") meta.push(t("meta.refused"));
  node.append(el("footer", "meta", meta.join(" · ")));
  return node;
}

/** The AI notice or a break reminder, as Troupe shows it in the flow. */
function noticeItem(kind, text) {
  const node = el("p", `notice ${kind}`);
  node.dataset.kind = kind;
  const label = kind === "break" ? t("break.label") : t("notice.label");
  node.append(el("strong", "", label), " ", el("span", "", text));
  return node;
}

/** A stored message as the log shows it. */
function historyNode(message) {
  if (message.role === "user") return userBubble(message.text, message.at);
  if (message.kind === "safety") {
    const node = troupeBubble("crisis", message.text, message.disclaimers);
    node.querySelector(".meta").textContent = when(message.at);
    return node;
  }
  return personaBubble({
    text: message.text,
    tag: message.kind === "follow-up" ? "followup" : "reply",
    disclaimers: message.disclaimers,
    model: message.model,
    at: message.at,
    interrupted: message.interrupted,
    truncated: message.truncated,
  });
}

// ---- History -----------------------------------------------------------

async function loadHistory(generation) {
  const page = await api("GET", `${chatPath()}?limit=${PAGE_SIZE}`);
  if (generation !== state.generation) return;
  const log = $("log");
  if (page.messages.length === 0) {
    log.append(personaBubble({ text: state.persona.greeting, tag: "greeting" }));
  } else {
    log.append(...page.messages.map(historyNode));
  }
  log.scrollTop = log.scrollHeight;
  setBefore(page.before);
}

async function loadOlder() {
  if (state.before === null) return;
  const generation = state.generation;
  try {
    const page = await api("GET", `${chatPath()}?limit=${PAGE_SIZE}&before=${state.before}`);
    if (generation !== state.generation) return;
    const log = $("log");
    const height = log.scrollHeight;
    log.prepend(...page.messages.map(historyNode));
    log.scrollTop += log.scrollHeight - height;
    setBefore(page.before);
    if (state.before === null) log.focus();
  } catch (error) {
    fail(error);
  }
}

function setBefore(before) {
  state.before = before ?? null;
  $("older").hidden = state.before === null;
}

// ---- Sending -----------------------------------------------------------

async function sendMessage(text) {
  if (state.sending || !text.trim()) return false;
  // Fields edited but not opened yet: open what they name first, so a
  // message never goes to the conversation the user just moved away from.
  if (chosenChanged()) await openConversation();
  if (!state.persona || chosenChanged()) return false;
  setSending(true);
  append(userBubble(text));
  const turn = { node: null, done: false, generation: state.generation };
  try {
    const response = await request("POST", chatPath(), { text }, "text/event-stream");
    await readEvents(response, (event) => onTurnEvent(turn, event));
    if (!turn.done) append(troupeBubble("error", t("error.ended")));
  } catch (error) {
    if (turn.node) finishPersona(turn.node, { interrupted: true });
    append(troupeBubble(error.code === "refused" ? "refusal" : "error", error.message));
    if (error.status === 401) $("token").focus();
  } finally {
    setSending(false);
  }
  if (turn.generation === state.generation) refreshAfterTurn();
  return true;
}

/** Renders one event of a streamed turn. */
function onTurnEvent(turn, { name, data }) {
  if (turn.generation !== state.generation) return;
  switch (name) {
    case "notice":
      append(noticeItem("notice", data.text));
      break;
    case "break_reminder":
      append(noticeItem("break", data.text));
      break;
    case "delta":
      if (!turn.node) {
        turn.node = personaBubble({ text: "", streaming: true });
        append(turn.node);
      }
      {
        const log = $("log");
        const follow = atEnd(log);
        turn.node.querySelector(".text").append(data.text ?? "");
        if (follow) log.scrollTop = log.scrollHeight;
      }
      break;
    case "reply":
      if (!turn.node) {
        turn.node = personaBubble({ name: data.persona_name, text: "", streaming: true });
        append(turn.node);
      }
      finishPersona(turn.node, data);
      turn.done = true;
      break;
    case "crisis":
    case "control":
      turn.node?.remove();
      append(troupeBubble(name, data.text, data.disclaimers));
      turn.done = true;
      break;
    case "refusal":
    case "error":
      if (turn.node) finishPersona(turn.node, { interrupted: true });
      append(troupeBubble(name, data.error?.message ?? t("error.ended")));
      turn.done = true;
      break;
    default:
      break;
  }
}

function setSending(sending) {
  state.sending = sending;
  for (const id of ["send", "stop", "start"]) $(id).disabled = sending;
  $("composer").setAttribute("aria-busy", String(sending));
  $("send").textContent = sending ? t("sending") : t("send");
}

/** After a turn: the settings line (STOP/START) and eligibility may have changed. */
function refreshAfterTurn() {
  const generation = state.generation;
  loadSettings(generation).catch(fail);
  if ($("creator").open) loadExplain(generation);
}

// ---- Follow-ups pushed live -------------------------------------------

function listen() {
  state.events?.abort();
  const controller = new AbortController();
  state.events = controller;
  follow(controller.signal, state.user);
}

/** Keeps the user's event stream open, reconnecting with a growing pause. */
async function follow(signal, user) {
  let pause = 1000;
  while (!signal.aborted) {
    try {
      const path = `/v1/users/${enc(user)}/events`;
      const response = await request("GET", path, undefined, "text/event-stream", signal);
      setLive(signal, "on");
      pause = 1000;
      await readEvents(response, (event) => {
        if (event.name === "followup" && !signal.aborted) onFollowup(event.data);
      });
    } catch (error) {
      if (signal.aborted) return;
      if ([400, 401, 403, 404].includes(error.status)) {
        setLive(signal, "closed", error.message);
        return;
      }
    }
    setLive(signal, "off");
    await sleep(pause, signal);
    pause = Math.min(pause * 2, RETRY_MAX_MS);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const live = { state: "off", message: "" };

function setLive(signal, value, message = "") {
  if (signal !== state.events?.signal) return;
  live.state = value;
  live.message = message;
  showLive();
}

function showLive() {
  const node = $("live");
  node.dataset.state = live.state;
  const text = { on: t("live.on"), off: t("live.off") }[live.state];
  node.textContent = text ?? t("live.closed", { message: live.message });
  node.hidden = !state.persona;
}

function onFollowup(data) {
  if (state.persona && data.persona === state.persona.id) {
    if (alreadyShown(data.text)) return;
    append(personaBubble({ name: data.persona_name, tag: "followup", ...data }));
    if ($("creator").open) loadExplain(state.generation);
    return;
  }
  const node = el("p", "notice other");
  node.dataset.kind = "followup-elsewhere";
  node.append(el("span", "", t("followup.other", { name: data.persona_name })), " ");
  const open = el("button", "link", t("followup.open"));
  open.type = "button";
  open.addEventListener("click", () => {
    $("persona").value = data.persona;
    openConversation();
  });
  node.append(open);
  append(node);
}

/** A follow-up the history already shows (one not yet seen comes twice). */
function alreadyShown(text) {
  return [...$("log").querySelectorAll('[data-kind="followup"] .text')].some(
    (node) => node.textContent === text,
  );
}

// ---- Settings ----------------------------------------------------------

function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
}

async function loadSettings(generation) {
  let view = null;
  try {
    view = await api("GET", userPath());
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  if (generation === state.generation) showSettings(view);
}

function showSettings(view) {
  const zone = view?.timezone ?? "";
  const serverZone = zone.endsWith(" (default)") ? zone.slice(0, -" (default)".length) : null;
  $("timezone").value = view && serverZone === null ? zone : "";
  $("timezone").placeholder = serverZone
    ? t("settings.timezone.server", { zone: serverZone })
    : t("settings.timezone.default");
  $("minor").checked = Boolean(view?.minor);
  $("followups").checked = view ? view.followups === "on" : true;
  const language = view?.language ?? "default";
  const select = $("language");
  if (![...select.options].some((option) => option.value === language)) {
    const option = el("option", "", language);
    option.value = language;
    select.append(option);
  }
  select.value = language;
  $("settings-note").textContent = view ? conversationLine(view) : t("settings.new");
}

function conversationLine(view) {
  const conversation = view.conversations?.find((c) => c.persona === state.persona?.id);
  let value = t("state.none");
  if (conversation) value = conversation.followups === "on" ? t("state.on") : t("state.stopped");
  return t("settings.conversation", { ...names(), state: value });
}

async function saveSettings(event) {
  event.preventDefault();
  if (!state.persona) return;
  const body = {
    timezone: $("timezone").value.trim() || "default",
    minor: $("minor").checked,
    followups: $("followups").checked,
    language: $("language").value,
  };
  try {
    showSettings(await api("PATCH", userPath(), body));
    say(t("settings.saved"), "ok");
  } catch (error) {
    fail(error);
  }
}

// ---- Rights: export and erasure ---------------------------------------

async function exportData() {
  if (!state.persona) return;
  try {
    const response = await request("GET", `${userPath()}/export`);
    const blob = new Blob([await response.text()], { type: "application/json" });
    const file = `troupe-export-${state.user}.json`;
    const link = el("a");
    link.href = URL.createObjectURL(blob);
    link.download = file;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    say(t("data.exported", { file }), "ok");
  } catch (error) {
    if (error.status === 404) say(t("data.nothing"), "info");
    else fail(error);
  }
}

function askErase() {
  if (!state.persona) return;
  $("erase-title").textContent = t("erase.title");
  $("erase-body").textContent = t("erase.body");
  $("erase-dialog").showModal();
}

async function erase() {
  $("erase-dialog").close();
  const user = state.user;
  try {
    const erased = await api("DELETE", userPath());
    await openConversation();
    say(t("erase.done", { user, ...erased }), "ok");
  } catch (error) {
    if (error.status === 404) say(t("data.nothing"), "info");
    else fail(error);
  }
}

// ---- The creator's view -----------------------------------------------

async function loadCreator(generation) {
  const detail = await api("GET", `/v1/personas/${enc(state.persona.id)}`);
  if (generation !== state.generation) return;
  const operator = typeof detail.system_prompt === "string";
  $("creator-note").hidden = operator;
  $("persona-file").textContent = detail.file ?? "—";
  $("system-prompt").textContent = detail.system_prompt ?? "—";
  await loadExplain(generation);
}

async function loadExplain(generation) {
  const rules = $("explain-rules");
  const verdictLine = $("explain-verdict");
  const query = `user=${enc(state.user)}&persona=${enc(state.persona.id)}`;
  try {
    const verdict = await api("GET", `/v1/followups/explain?${query}`);
    if (generation !== state.generation) return;
    verdictLine.textContent = verdict.eligible ? t("creator.eligible") : t("creator.not_eligible");
    rules.replaceChildren(...verdict.rules.map(ruleItem));
  } catch (error) {
    if (generation !== state.generation) return;
    verdictLine.textContent = error.message;
    rules.replaceChildren();
  }
}

function ruleItem(rule) {
  const item = el("li", rule.pass ? "pass" : "fail");
  item.append(el("span", "badge", rule.pass ? t("rule.pass") : t("rule.fail")), " ");
  item.append(el("code", "", rule.rule), " ", el("span", "", rule.detail));
  return item;
}

async function runFollowups() {
  try {
    const report = await api("POST", "/v1/followups/run", {});
    say(t("creator.ran", { sent: report.sent }), "ok");
    if (state.persona) loadExplain(state.generation);
  } catch (error) {
    fail(error);
  }
}

// ---- Choosing the conversation ----------------------------------------

/** Whether the fields name another conversation than the one open. */
function chosenChanged() {
  return (
    $("user").value.trim() !== state.user ||
    $("persona").value !== state.persona?.id ||
    $("token").value.trim() !== state.token
  );
}

async function openConversation() {
  const token = $("token").value.trim();
  if (token !== state.token || state.personas.length === 0) {
    state.token = token;
    sessionStorage.setItem("troupe.token", token);
    if (!(await loadPersonas())) return;
  }
  const user = $("user").value.trim();
  if (!USER_ID.test(user)) {
    say(t("field.user.invalid"), "error");
    $("user").focus();
    return;
  }
  const persona = state.personas.find((p) => p.id === $("persona").value);
  if (!persona) return;
  const generation = ++state.generation;
  Object.assign(state, { user, persona, lang: languageOf(persona.language) });
  remember(user, persona.id);
  applyStrings();
  $("log").replaceChildren();
  setBefore(null);
  $("ai-notice-text").textContent = persona.ai_notice;
  $("ai-notice").hidden = false;
  say("");
  listen();
  const loads = [loadHistory(generation), loadSettings(generation)];
  if ($("creator").open) loads.push(loadCreator(generation));
  const failed = (await Promise.allSettled(loads)).find((r) => r.status === "rejected");
  if (failed && generation === state.generation) fail(failed.reason);
}

/** Keeps the choice for the next visit (the token stays in this tab only). */
function remember(user, persona) {
  localStorage.setItem("troupe.user", user);
  localStorage.setItem("troupe.persona", persona);
  const url = new URL(location.href);
  url.searchParams.set("user", user);
  url.searchParams.set("persona", persona);
  history.replaceState(null, "", url);
}

async function loadPersonas() {
  const wanted = $("persona").value || state.wanted;
  try {
    state.personas = await api("GET", "/v1/personas");
  } catch (error) {
    state.personas = [];
    fail(error);
    return false;
  }
  const options = state.personas.map((p) => {
    const adults = p.adults_only ? ` · ${t("tag.adults")}` : "";
    const option = el("option", "", `${p.name} (${p.language})${adults}`);
    option.value = p.id;
    return option;
  });
  $("persona").replaceChildren(...options);
  if (state.personas.some((p) => p.id === wanted)) $("persona").value = wanted;
  return true;
}

// ---- Start -------------------------------------------------------------

function wire() {
  $("who").addEventListener("submit", (event) => {
    event.preventDefault();
    openConversation();
  });
  $("persona").addEventListener("change", () => openConversation());
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("message");
    const text = box.value;
    if (!text.trim() || state.sending) return;
    box.value = "";
    sendMessage(text).then((sent) => {
      if (!sent) box.value = text;
      box.focus();
    });
  });
  $("message").addEventListener("keydown", (event) => {
    const plain = !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (event.key === "Enter" && plain && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => sendMessage("STOP"));
  $("start").addEventListener("click", () => sendMessage("START"));
  $("older").addEventListener("click", loadOlder);
  $("settings").addEventListener("submit", saveSettings);
  $("browser-zone").addEventListener("click", () => {
    $("timezone").value = browserZone();
  });
  $("export").addEventListener("click", exportData);
  $("erase").addEventListener("click", askErase);
  $("erase-cancel").addEventListener("click", () => $("erase-dialog").close());
  $("erase-confirm").addEventListener("click", erase);
  $("creator").addEventListener("toggle", () => {
    if ($("creator").open && state.persona) loadCreator(state.generation).catch(fail);
  });
  $("explain-refresh").addEventListener("click", () => loadExplain(state.generation));
  $("run-followups").addEventListener("click", runFollowups);
}

function fillZones() {
  const zones = Intl.supportedValuesOf?.("timeZone") ?? [];
  $("zones").replaceChildren(
    ...zones.map((zone) => {
      const option = el("option");
      option.value = zone;
      return option;
    }),
  );
}

async function start() {
  try {
    const response = await fetch("/console.strings.json");
    if (response.ok) state.strings = await response.json();
  } catch {
    // The page's own English text stays.
  }
  wire();
  fillZones();
  const params = new URLSearchParams(location.search);
  $("token").value = state.token;
  $("user").value = params.get("user") ?? localStorage.getItem("troupe.user") ?? "guest";
  state.wanted = params.get("persona") ?? localStorage.getItem("troupe.persona") ?? "";
  applyStrings();
  if (await loadPersonas()) await openConversation();
  document.body.dataset.ready = "true";
}

start();
