// The conversation log: one bubble per message, and who it is from. The
// persona's words, the user's, and Troupe's own (safety replies, STOP/START
// confirmations, notices, errors) each look different; disclaimers sit in
// a box of their own, apart from the words they qualify.

import { $, el, t, state } from "./page.js";

/** Adds `node` at the end of the log, following it if the reader was at the end. */
export function append(node) {
  const log = $("log");
  const follow = atEnd(log);
  log.append(node);
  if (follow) log.scrollTop = log.scrollHeight;
}

/** Whether the log is scrolled to (nearly) its end. */
export function atEnd(log) {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

/** A message's time (now, for one just shown), in the page's language. */
function when(at) {
  const date = at ? new Date(at) : new Date();
  const format = new Intl.DateTimeFormat(state.lang, {
    dateStyle: "medium",
    timeStyle: "short",
  });
  return format.format(date);
}

/** What the user wrote. */
export function userBubble(text, at) {
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
export function personaBubble({ name, text, tag = "reply", streaming = false, ...rest }) {
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
export function finishPersona(node, { text, disclaimers, model, at, interrupted, truncated }) {
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
 * (STOP/START confirmation), `refusal` or `error`. A crisis reply says what
 * it answers (`crisis`: `self_harm`, or `danger` from someone else, which is
 * headed as urgent).
 */
export function troupeBubble(kind, text, disclaimers, at, crisis) {
  const node = el("article", `msg troupe ${kind}`);
  node.dataset.kind = kind;
  if (crisis) {
    node.dataset.crisis = crisis;
    node.classList.add(crisis);
  }
  const heading =
    kind !== "crisis" ? t("who.troupe") : crisis === "danger" ? t("who.danger") : t("who.safety");
  const who = el("header", "who", heading);
  if (state.persona) who.append(" ", el("span", "not", `(${t("who.not_persona")})`));
  node.append(who, el("p", "text", text));
  if (disclaimers?.length) node.append(disclaimerBox(disclaimers));
  const meta = [when(at)];
  if (kind === "refusal") meta.push(t("meta.refused"));
  node.append(el("footer", "meta", meta.join(" · ")));
  return node;
}

/** The AI notice or a break reminder, as Troupe shows it in the flow. */
export function noticeItem(kind, text) {
  const node = el("p", `notice ${kind}`);
  node.dataset.kind = kind;
  const label = kind === "break" ? t("break.label") : t("notice.label");
  node.append(el("strong", "", label), " ", el("span", "", text));
  return node;
}

/** A stored message as the log shows it. */
export function historyNode(message) {
  if (message.role === "user") return userBubble(message.text, message.at);
  if (message.kind === "safety") {
    return troupeBubble("crisis", message.text, message.disclaimers, message.at);
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
