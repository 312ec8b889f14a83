// The side panels: the user's settings, their data (export and erasure),
// and the creator's view of the persona (its file, its rendered system
// prompt, and why a follow-up is or is not due).

import { api, enc, request, userPath } from "./api.js";
import { $, el, fail, names, saveFile, say, state, t } from "./page.js";

/** The browser's own time zone, offered as the user's. */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
}

/** Offers every IANA time zone the browser knows as a suggestion. */
export function fillZones() {
  const zones = Intl.supportedValuesOf?.("timeZone") ?? [];
  $("zones").replaceChildren(
    ...zones.map((zone) => {
      const option = el("option");
      option.value = zone;
      return option;
    }),
  );
}

/** Shows the user's settings (a user who never wrote gets the defaults). */
export async function loadSettings(generation) {
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

/** Saves the settings form; the server's message explains a refused value. */
export async function saveSettings(event) {
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

/** Downloads everything stored about the user as a JSON file. */
export async function exportData() {
  if (!state.persona) return;
  try {
    const response = await request("GET", `${userPath()}/export`);
    const blob = new Blob([await response.text()], { type: "application/json" });
    const file = `troupe-export-${state.user}.json`;
    saveFile(blob, file);
    say(t("data.exported", { file }), "ok");
  } catch (error) {
    if (error.status === 404) say(t("data.nothing"), "info");
    else fail(error);
  }
}

/** Asks before erasing: nothing is erased until the dialog is confirmed. */
export function askErase() {
  if (!state.persona) return;
  $("erase-title").textContent = t("erase.title");
  $("erase-body").textContent = t("erase.body");
  $("erase-dialog").showModal();
}

/** Erases the user, then `reopen`s the (now empty) conversation. */
export async function erase(reopen) {
  $("erase-dialog").close();
  const user = state.user;
  try {
    const erased = await api("DELETE", userPath());
    await reopen();
    say(t("erase.done", { user, ...erased }), "ok");
  } catch (error) {
    if (error.status === 404) say(t("data.nothing"), "info");
    else fail(error);
  }
}

/** The persona's file, rendered prompt and post-history instruction
 * (operators only), and eligibility. */
export async function loadCreator(generation) {
  const detail = await api("GET", `/v1/personas/${enc(state.persona.id)}`);
  if (generation !== state.generation) return;
  const operator = typeof detail.system_prompt === "string";
  $("creator-note").hidden = operator;
  $("persona-file").textContent = detail.file ?? "—";
  $("system-prompt").textContent = detail.system_prompt ?? "—";
  const after = typeof detail.post_history === "string";
  $("post-history-title").hidden = !after;
  $("post-history").hidden = !after;
  $("post-history").textContent = detail.post_history ?? "";
  showGreetings();
  await loadExplain(generation);
}

/** Every greeting the persona may open with, as written: each user is
 * greeted with one of them, picked for them. */
function showGreetings() {
  const greetings = [state.persona.greeting, ...(state.persona.alternate_greetings ?? [])];
  $("greetings-title").hidden = greetings.length < 2;
  $("greetings").hidden = greetings.length < 2;
  $("greetings").replaceChildren(...greetings.map((text) => el("li", "", text)));
}

/** Why a follow-up is or is not due now, rule by rule. */
export async function loadExplain(generation) {
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

/** Delivers every due follow-up now (operators only). */
export async function runFollowups() {
  try {
    const report = await api("POST", "/v1/followups/run", {});
    say(t("creator.ran", { sent: report.sent }), "ok");
    if (state.persona) loadExplain(state.generation);
  } catch (error) {
    fail(error);
  }
}
