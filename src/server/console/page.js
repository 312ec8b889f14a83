// What every part of the web console shares: the page's state, making
// elements (text only ever set with textContent), the interface strings,
// downloads, and the status line.

/** User ids as the server accepts them. */
export const USER_ID = /^[A-Za-z0-9_@-][A-Za-z0-9._@-]{0,63}$/;

/**
 * What the page shows now. `generation` counts conversations opened, so an
 * answer that arrives after the user moved on is dropped.
 */
export const state = {
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

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new element with a class and text (as text, never HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** The interface string `key` in the page's language, with `{name}`s filled. */
export function t(key, vars = names()) {
  const own = state.strings[state.lang] ?? {};
  const template = own[key] ?? state.strings.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? String(vars[name]) : whole,
  );
}

/** The names interface strings fill in by default. */
export function names() {
  return { name: state.persona?.name ?? "", user: state.user };
}

/** The interface language for a persona's language code: its own if known. */
export function languageOf(code) {
  const primary = String(code ?? "en").split("-")[0].toLowerCase();
  return primary in state.strings ? primary : "en";
}

/** Hands `blob` to the browser as a download named `file`. */
export function saveFile(blob, file) {
  const link = el("a");
  link.href = URL.createObjectURL(blob);
  link.download = file;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

/** Shows `message` on the status line (`info`, `ok` or `error`). */
export function say(message, kind = "info") {
  const node = $("status");
  node.textContent = message;
  node.dataset.kind = kind;
}

/** Shows an error; a missing or refused token sends the user to its field. */
export function fail(error) {
  say(error?.message ?? String(error), "error");
  if (error?.status === 401) $("token").focus();
}
