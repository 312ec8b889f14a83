//! The web console at `/`: a chat page for trying personas in a browser,
//! built into the binary. It is static files under `src/server/console/`
//! (the page, a style sheet, a few ES modules and the interface strings),
//! with no build step and nothing loaded from elsewhere; the page talks to
//! the `/v1` API like any other client, so it needs no route of its own
//! beyond its files.
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

/// JavaScript, for the modules' `Content-Type`.
const JS: &str = "text/javascript; charset=utf-8";

/// The files under `/console/`: name, `Content-Type`, contents. The
/// strings are one table per language (`en`, `fr`), chosen by the
/// persona's language.
const FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("console/console.css"),
    ),
    ("console.js", JS, include_str!("console/console.js")),
    ("page.js", JS, include_str!("console/page.js")),
    ("api.js", JS, include_str!("console/api.js")),
    ("log.js", JS, include_str!("console/log.js")),
    ("panels.js", JS, include_str!("console/panels.js")),
    ("cards.js", JS, include_str!("console/cards.js")),
    (
        "strings.json",
        "application/json",
        include_str!("console/strings.json"),
    ),
];

/// What the page may load and where it may connect: only this server, only
/// its own files; no inline script, no frames, no forms posted elsewhere.
/// `data:` images cover the empty favicon.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The console's routes: `/` and `/console/FILE` for each of [`FILES`].
pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let page = Router::new().route(
        "/",
        get(|| async { file("text/html; charset=utf-8", INDEX_HTML) }),
    );
    FILES
        .iter()
        .fold(page, |router, &(name, content_type, body)| {
            router.route(
                &format!("/console/{name}"),
                get(move || async move { file(content_type, body) }),
            )
        })
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

    /// The contents of the file `name` under `/console/`.
    fn contents(name: &str) -> &'static str {
        FILES
            .iter()
            .find(|(file, _, _)| *file == name)
            .map(|(_, _, body)| *body)
            .unwrap_or_else(|| panic!("no console file {name}"))
    }

    /// The scripts.
    fn scripts() -> impl Iterator<Item = &'static str> {
        FILES
            .iter()
            .filter(|(name, _, _)| name.ends_with(".js"))
            .map(|(_, _, body)| *body)
    }

    /// The keys of one language's table.
    fn keys(language: &str) -> BTreeSet<String> {
        let tables: serde_json::Value = serde_json::from_str(contents("strings.json")).unwrap();
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
        for script in scripts() {
            wanted.extend(keys_asked_by_script(script));
        }
        assert!(wanted.len() > 40, "found only {wanted:?}");
        let missing: Vec<_> = wanted.difference(&en).collect();
        assert!(missing.is_empty(), "missing from strings.json: {missing:?}");
    }

    #[test]
    fn every_module_a_script_imports_is_served() {
        let served: BTreeSet<String> = FILES.iter().map(|(n, _, _)| n.to_string()).collect();
        let mut imported = BTreeSet::new();
        for script in scripts() {
            imported.extend(quoted_after(script, "from \"./"));
        }
        assert!(imported.len() >= 4, "found only {imported:?}");
        let missing: Vec<_> = imported.difference(&served).collect();
        assert!(missing.is_empty(), "imported but not served: {missing:?}");
        assert!(INDEX_HTML.contains(r#"<script type="module" src="/console/console.js">"#));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_runs_no_inline_code() {
        for (name, _, text) in FILES.iter().chain([&("index.html", "", INDEX_HTML)]) {
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{name} names another site"
            );
        }
        assert!(!INDEX_HTML.contains("<script>") && !INDEX_HTML.contains(" style="));
        let handlers: Vec<&str> = INDEX_HTML
            .split(char::is_whitespace)
            .filter(|word| word.starts_with("on") && word.contains('='))
            .collect();
        assert!(handlers.is_empty(), "inline handlers: {handlers:?}");
        for script in scripts() {
            assert!(
                !script.contains("innerHTML") && !script.contains("insertAdjacentHTML"),
                "text is only ever set with textContent"
            );
        }
    }
}
