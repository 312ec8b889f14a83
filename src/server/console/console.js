// The Troupe web console: chat with a persona through the /v1 API of the
// server that serves this page. This module opens conversations, sends
// messages and renders their streamed replies, and keeps the user's
// follow-up stream open; `page.js`, `api.js`, `log.js`, `panels.js` and
// `cards.js` hold the rest.
//
// Every text from a user, a persona or the server is put in the page with
// textContent, never parsed as HTML.

import { api, chatPath, enc, greetingPath, readEvents, request } from "./api.js";
import {
  append,
  atEnd,
  finishPersona,
  historyNode,
  noticeItem,
  personaBubble,
  troupeBubble,
  userBubble,
} from "./log.js";
import * as cards from "./cards.js";
import * as panels from "./panels.js";
import { $, USER_ID, el, fail, languageOf, say, state, t } from "./page.js";

const PAGE_SIZE = 25;
const RETRY_MAX_MS = 30000;

/** Puts the page in the open persona's language. */
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
  $("browser-zone").textContent = t("settings.browser_zone", { zone: panels.browserZone() });
  showLive();
}

// ---- History -----------------------------------------------------------

async function loadHistory(generation) {
  const page = await api("GET", `${chatPath()}?limit=${PAGE_SIZE}`);
  // The greeting picked for this user, macros expanded: what the model is
  // told the conversation opened with.
  const greeting = page.messages.length === 0 ? await api("GET", greetingPath()) : null;
  if (generation !== state.generation) return;
  const log = $("log");
  // Whatever is in the log already came live while this page loaded (a
  // follow-up the stream delivered first), so the history goes above it,
  // and a follow-up both delivered live and stored is shown once.
  const arrived = [...log.children];
  if (page.messages.length === 0) {
    log.prepend(personaBubble({ text: greeting.greeting, tag: "greeting" }));
  } else {
    log.prepend(...page.messages.map(historyNode));
  }
  const stored = new Set(page.messages.filter((m) => m.kind === "follow-up").map((m) => m.text));
  for (const node of arrived) {
    const text = node.querySelector(".text")?.textContent;
    if (node.dataset.kind === "followup" && stored.has(text)) node.remove();
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
      append(troupeBubble(name, data.text, data.disclaimers, undefined, data.crisis));
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
  panels.loadSettings(generation).catch(fail);
  if ($("creator").open) panels.loadExplain(generation);
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
    if ($("creator").open) panels.loadExplain(state.generation);
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
  const loads = [loadHistory(generation), panels.loadSettings(generation)];
  if ($("creator").open) loads.push(panels.loadCreator(generation));
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
  $("settings").addEventListener("submit", panels.saveSettings);
  $("browser-zone").addEventListener("click", () => {
    $("timezone").value = panels.browserZone();
  });
  $("export").addEventListener("click", panels.exportData);
  $("erase").addEventListener("click", panels.askErase);
  $("erase-cancel").addEventListener("click", () => $("erase-dialog").close());
  $("erase-confirm").addEventListener("click", () => panels.erase(openConversation));
  $("creator").addEventListener("toggle", () => {
    if ($("creator").open && state.persona) panels.loadCreator(state.generation).catch(fail);
  });
  $("explain-refresh").addEventListener("click", () => panels.loadExplain(state.generation));
  $("run-followups").addEventListener("click", panels.runFollowups);
  $("import-file").addEventListener("change", cards.preview);
  $("import-write").addEventListener("click", () => cards.write(false, showImported));
  $("import-replace").addEventListener("click", () => cards.write(true, showImported));
  $("import-cancel").addEventListener("click", cards.cancel);
  for (const button of document.querySelectorAll("[data-format]")) {
    button.addEventListener("click", () => cards.exportCard(button.dataset.format));
  }
}

/** Lists the personas again and opens the one just imported. */
async function showImported(id) {
  if (!(await loadPersonas())) return;
  $("persona").value = id;
  await openConversation();
}

async function start() {
  try {
    const response = await fetch("/console/strings.json");
    if (response.ok) state.strings = await response.json();
  } catch {
    // The page's own English text stays.
  }
  wire();
  panels.fillZones();
  const params = new URLSearchParams(location.search);
  $("token").value = state.token;
  $("user").value = params.get("user") ?? localStorage.getItem("troupe.user") ?? "guest";
  state.wanted = params.get("persona") ?? localStorage.getItem("troupe.persona") ?? "";
  applyStrings();
  if (await loadPersonas()) await openConversation();
  document.body.dataset.ready = "true";
}

start();
