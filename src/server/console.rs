//! The web console at `/`: a chat page for trying personas in a browser,
//! built into the binary. It is three static files and a string table under
//! `src/server/console/`, with no build step and nothing loaded from
//! elsewhere; the page talks to the `/v1` API like any other client, so it
//! needs no route of its own beyond the files.
//!
//! The files are public (the page must load before the user pastes a
//! token); everything they show comes from the API, which checks tokens as
//! usual. A strict Content-Security-Policy lets the page run only its own
//! script and style and talk only to this server.

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
const INDEX_HTML: &str = include_str!("console/index.html");
/// Its script.
const CONSOLE_JS: &str = include_str!("console/console.js");
/// Its style sheet.
const CONSOLE_CSS: &str = include_str!("console/console.css");
/// Its interface strings, one table per language (`en`, `fr`), chosen by
/// the persona's language.
const STRINGS_JSON: &str = include_str!("console/strings.json");

/// What the page may load and where it may connect: only this server, only
/// its own files; no inline script, no frames, no forms posted elsewhere.
/// `data:` images cover the empty favicon.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The console's routes: `/` and the files it loads.
pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console.js",
            get(|| async { file("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/console.css",
            get(|| async { file("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
        .route(
            "/console.strings.json",
            get(|| async { file("application/json", STRINGS_JSON) }),
        )
}

/// One of the console's files, with the headers every one of them carries.
/// `no-cache` makes the browser check again, so a new build's page is never
/// mixed with an old script.
fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The keys of one language's table.
    fn keys(language: &str) -> BTreeSet<String> {
        let tables: serde_json::Value = serde_json::from_str(STRINGS_JSON).unwrap();
        tables[language]
            .as_object()
            .unwrap_or_else(|| panic!("strings.json has no \"{language}\" table"))
            .keys()
            .cloned()
            .collect()
    }

    /// Every string between `prefix` and the next `"` in `text`.
    fn quoted_after(text: &str, prefix: &str) -> BTreeSet<String> {
        text.split(prefix)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect()
    }

    /// The literal keys of every call to `t(…)` in the script (not `set(…)`).
    fn keys_asked_by_script(script: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (at, _) in script.match_indices("t(\"") {
            let before = script[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || "_.$".contains(c)) {
                continue;
            }
            if let Some(key) = script[at + 3..].split('"').next() {
                found.insert(key.to_string());
            }
        }
        found
    }

    #[test]
    fn english_and_french_tables_have_the_same_keys() {
        let (en, fr) = (keys("en"), keys("fr"));
        assert_eq!(
            en.symmetric_difference(&fr).collect::<Vec<_>>(),
            Vec::<&String>::new()
        );
    }

    #[test]
    fn every_string_the_page_and_script_ask_for_is_in_the_table() {
        let en = keys("en");
        let mut wanted = BTreeSet::new();
        for attribute in [
            "data-i18n=\"",
            "data-i18n-placeholder=\"",
            "data-i18n-title=\"",
        ] {
            wanted.extend(quoted_after(INDEX_HTML, attribute));
        }
        wanted.extend(keys_asked_by_script(CONSOLE_JS));
        assert!(wanted.len() > 40, "found only {wanted:?}");
        let missing: Vec<_> = wanted.difference(&en).collect();
        assert!(missing.is_empty(), "missing from strings.json: {missing:?}");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_runs_no_inline_code() {
        for text in [INDEX_HTML, CONSOLE_JS, CONSOLE_CSS] {
            assert!(!text.contains("http://") && !text.contains("https://"));
        }
        assert!(!INDEX_HTML.contains("<script>") && !INDEX_HTML.contains(" style="));
        let handlers: Vec<&str> = INDEX_HTML
            .split(char::is_whitespace)
            .filter(|word| word.starts_with("on") && word.contains('='))
            .collect();
        assert!(handlers.is_empty(), "inline handlers: {handlers:?}");
        assert!(
            !CONSOLE_JS.contains("innerHTML") && !CONSOLE_JS.contains("insertAdjacentHTML"),
            "text is only ever set with textContent"
        );
    }
}
