// The creator's card tools in the persona view: import a Character Card or
// a persona file (a dry run shows what it becomes; Import writes it, and
// asks before replacing a persona that exists), and export the open
// persona as a card. Operators only: the server refuses other tokens.

import { api, enc, request } from "./api.js";
import { $, el, fail, say, saveFile, state, t } from "./page.js";

/** The chosen file and its dry-run answer, until imported or dropped. */
const chosen = { file: null, answer: null };

/** The import route for `file`, with query `options`. */
function importPath(file, options = {}) {
  const query = new URLSearchParams({ filename: file.name, ...options });
  return `/v1/personas/import?${query}`;
}

/** The strings' names for a dry-run or import answer. */
function varsOf(answer) {
  return { persona: answer.name, id: answer.id, format: answer.format, file: answer.file };
}

/** Shows what the chosen file would become; nothing is written. */
export async function preview() {
  const file = $("import-file").files?.[0];
  hideReport();
  if (!file) return;
  try {
    const answer = await api("POST", importPath(file, { dry_run: "true" }), file);
    Object.assign(chosen, { file, answer });
    showReport(answer);
  } catch (error) {
    fail(error);
  }
}

function showReport(answer) {
  const vars = varsOf(answer);
  $("import-summary").textContent = t("cards.summary", vars);
  const language = answer.language_defaulted ? "cards.language.default" : "cards.language";
  const notes = [t(language, { language: answer.language })];
  if (answer.adults_only) notes.push(t("cards.adults"));
  notes.push(t("cards.safety"));
  if (answer.exists) notes.push(t("cards.exists", vars));
  $("import-notes").textContent = notes.join(" ");
  fillList("import-mapped", [...answer.mapped, ...answer.stand_ins]);
  fillList("import-kept", answer.kept);
  fillList("import-ignored", answer.ignored);
  $("import-toml").textContent = answer.toml;
  $("import-conflict").hidden = true;
  $("import-replace").hidden = true;
  $("import-write").disabled = false;
  $("import-report").hidden = false;
}

function fillList(id, lines) {
  const items = lines.map((line) => el("li", "", line));
  $(id).replaceChildren(...(items.length > 0 ? items : [el("li", "none", t("cards.none"))]));
}

function hideReport() {
  Object.assign(chosen, { file: null, answer: null });
  $("import-report").hidden = true;
}

/** Drops the chosen file; nothing was written. */
export function cancel() {
  hideReport();
  $("import-file").value = "";
}

/**
 * Writes the chosen file as a persona, replacing one with its id only when
 * `replace`; a persona that exists asks first. `onImported(id)` shows the
 * new persona.
 */
export async function write(replace, onImported) {
  const { file, answer } = chosen;
  if (!file) return;
  $("import-write").disabled = true;
  try {
    const options = replace ? { replace: "true" } : {};
    const written = await api("POST", importPath(file, options), file);
    cancel();
    await onImported(written.id);
    say(t("cards.imported", varsOf(written)), "ok");
  } catch (error) {
    $("import-write").disabled = false;
    if (error.code === "conflict" && !replace) {
      $("import-conflict").textContent = t("cards.conflict", varsOf(answer));
      $("import-conflict").hidden = false;
      $("import-replace").hidden = false;
      $("import-replace").focus();
    } else {
      fail(error);
    }
  }
}

/** Downloads the open persona as a card: `card-v2`, `card-v3` or `png`. */
export async function exportCard(format) {
  if (!state.persona) return;
  const id = state.persona.id;
  try {
    const path = `/v1/personas/${enc(id)}/export?format=${enc(format)}`;
    const response = await request("GET", path, undefined, "application/json, image/png");
    const file = attachmentName(response) ?? `${id}.${format === "png" ? "png" : `${format}.json`}`;
    saveFile(await response.blob(), file);
    say(t("data.exported", { file }), "ok");
  } catch (error) {
    fail(error);
  }
}

/** The file name a Content-Disposition header gives, if any. */
function attachmentName(response) {
  const header = response.headers.get("Content-Disposition") ?? "";
  return /filename="([^"]+)"/.exec(header)?.[1] ?? null;
}
