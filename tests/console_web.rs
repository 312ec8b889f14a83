//! The web console at `/`: its files and headers over plain HTTP, and whole
//! sessions in a real headless Chromium driven through chromedriver (on
//! when `TROUPE_TEST_CHROMEDRIVER` / `TROUPE_TEST_CHROMIUM` are set; see
//! `support::browser`). The browser tests assert on what a user sees on the
//! page and on what the server stored.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::Troupe;
use crate::support::browser::{Browser, ENTER, http_client, png_size};
use crate::support::postgres::{TestSchema, database_url};

const OPERATOR: &str = "operator-secret-token";

#[test]
fn the_console_page_and_its_files_are_served_with_a_strict_content_security_policy() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", OPERATOR);
    let server = troupe.serve(&[]);
    let http = http_client();
    let page = http.get(format!("{}/", server.url)).send().unwrap();
    assert_eq!(
        page.status(),
        200,
        "the page loads before any token is given"
    );
    let header = |name: &str| page.headers()[name].to_str().unwrap().to_string();
    assert!(header("content-type").starts_with("text/html"));
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    let html = page.text().unwrap();
    assert!(html.contains(r#"<script type="module" src="/console/console.js">"#));
    assert!(html.contains(r#"href="/console/console.css""#));
    for (path, content_type, expected) in [
        ("/console/console.js", "text/javascript", "openConversation"),
        ("/console/page.js", "text/javascript", "textContent"),
        ("/console/api.js", "text/javascript", "readEvents"),
        ("/console/log.js", "text/javascript", "disclaimers"),
        (
            "/console/panels.js",
            "text/javascript",
            "/v1/followups/explain",
        ),
        (
            "/console/cards.js",
            "text/javascript",
            "/v1/personas/import",
        ),
        ("/console/console.css", "text/css", ".msg.troupe"),
        (
            "/console/strings.json",
            "application/json",
            "Console Troupe",
        ),
    ] {
        let file = http.get(format!("{}{path}", server.url)).send().unwrap();
        assert_eq!(file.status(), 200, "{path}");
        let served_as = file.headers()["content-type"].to_str().unwrap().to_string();
        assert!(served_as.starts_with(content_type), "{path}: {served_as}");
        assert!(file.text().unwrap().contains(expected), "{path}");
    }
    assert_eq!(
        server.get("/v1/personas").status,
        401,
        "the API behind the page still wants a token"
    );
}

#[test]
fn a_whole_conversation_runs_in_a_real_browser_with_live_follow_ups_stop_and_erasure() {
    let downloads = tempfile::tempdir().unwrap();
    let Some(browser) = Browser::launch(
        "a_whole_conversation_runs_in_a_real_browser",
        downloads.path(),
    ) else {
        return;
    };
    a_whole_conversation(&browser, Troupe::new(), downloads.path(), "conversation");
}

/// The same session in the browser against a server whose store is
/// PostgreSQL (on when both the browser and `TROUPE_TEST_DATABASE_URL` are).
#[test]
fn the_same_conversation_runs_in_a_real_browser_on_postgresql() {
    let Some(url) = database_url("console_web::the_same_conversation_on_postgresql") else {
        return;
    };
    let downloads = tempfile::tempdir().unwrap();
    let Some(browser) = Browser::launch(
        "the_same_conversation_runs_in_a_real_browser_on_postgresql",
        downloads.path(),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let schema = runtime.block_on(TestSchema::create(&url));
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
    a_whole_conversation(
        &browser,
        troupe,
        downloads.path(),
        "conversation-postgresql",
    );
    let number = |sql: &str| runtime.block_on(schema.number(sql));
    assert_eq!(
        number("SELECT count(*) FROM users WHERE id = 'alice'")
            + number("SELECT count(*) FROM messages"),
        0,
        "the erasure left nothing of alice in PostgreSQL"
    );
    assert!(
        number("SELECT coalesce(sum(count), 0)::bigint FROM safety_events") >= 1,
        "the crisis was counted in PostgreSQL's anonymous safety log"
    );
    runtime.block_on(schema.drop_all());
}

/// A whole session for alice, who has five messages with Chef Marco: the
/// history, a follow-up arriving live, a streamed reply, STOP, a crisis
/// answered by Troupe, settings, a screenshot (saved as `shot`), the
/// export, and an erasure.
fn a_whole_conversation(browser: &Browser, troupe: Troupe, downloads: &Path, shot: &str) {
    let started = Instant::now();
    troupe.five_messages("alice", &[]);
    let off = troupe.run(&["user", "set", "alice", "--followups", "off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    let server = troupe.serve(&["--now", "2026-11-04T10:00:00Z"]);
    browser.goto(&format!("{}/?user=alice&persona=chef", server.url));
    wait_live(browser);

    assert_eq!(
        count(browser, "#log [data-kind=user]"),
        5,
        "the history is shown"
    );
    assert_eq!(count(browser, "#log [data-kind=reply]"), 5);
    assert!(browser.text("#ai-notice").contains("an AI, not a person"));
    assert_eq!(
        browser.run("return document.getElementById('older').hidden", json!([])),
        true
    );

    follow_up_arrives_live(browser, &server);
    browser.goto(&format!("{}/?user=alice&persona=chef", server.url));
    wait_live(browser);
    assert_eq!(
        count(browser, "#log [data-kind=followup]"),
        1,
        "after a reload the follow-up is in the history, once"
    );
    a_message_sent_with_enter_streams_its_reply(browser, &server);
    stop_is_confirmed_by_troupe(browser, &server);
    a_crisis_is_answered_by_troupe_safety(browser);
    settings_are_saved_from_the_page(browser, &server);
    let shot = save_screenshot(browser, shot);
    eprintln!("console screenshot: {}", shot.display());
    export_downloads_the_user_s_data(browser, downloads);
    erasure_asks_first_then_erases(browser, &server);
    assert_clean_console(browser);
    eprintln!("browser test ran in {:?}", started.elapsed());
}

#[test]
fn a_french_persona_speaks_french_and_older_pages_load_with_a_user_s_token() {
    let downloads = tempfile::tempdir().unwrap();
    let Some(browser) = Browser::launch("a_french_persona_speaks_french", downloads.path()) else {
        return;
    };
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", OPERATOR);
    let server = troupe.serve(&[]);
    let minted = server
        .as_token(OPERATOR)
        .post("/v1/users/bob/tokens", json!({}));
    let token = minted.json["token"].as_str().unwrap().to_string();
    let bob = server.as_token(&token);
    for i in 1..=15 {
        let text = format!("Question {i} : quelle couleur pour le salon ?");
        let sent = bob.post(
            "/v1/conversations/bob/decor/messages",
            json!({ "text": text }),
        );
        assert_eq!(sent.status, 200, "{}", sent.text);
    }

    browser.goto(&format!("{}/?user=bob&persona=decor", server.url));
    browser.wait_until(
        "the page to ask for a token",
        "return document.getElementById('status').textContent.includes('needs a token')",
        json!([]),
    );
    browser.type_into("#token", &format!("{token}{ENTER}"));
    wait_live(&browser);
    assert_eq!(
        browser.run("return document.documentElement.lang", json!([])),
        "fr"
    );
    assert_eq!(browser.text("#chat-title"), "Discussion avec Élise");
    assert_eq!(browser.text("#send"), "Envoyer");
    assert_eq!(browser.text("#live"), "Relances en direct");

    assert_eq!(count(&browser, "#log .msg"), 25, "one page of history");
    assert_eq!(browser.text("#older"), "Charger les messages précédents");
    browser.click("#older");
    browser.wait_until(
        "the older page",
        "return document.querySelectorAll('#log .msg').length === 30",
        json!([]),
    );
    assert_eq!(
        browser.text("#log .msg .text"),
        "Question 1 : quelle couleur pour le salon ?"
    );
    assert_eq!(
        browser.run("return document.getElementById('older').hidden", json!([])),
        true
    );

    browser.type_into("#message", &format!("Et pour la chambre ?{ENTER}"));
    browser.wait_until(
        "Élise's reply",
        "const r = document.querySelectorAll('#log [data-kind=reply]:not([aria-busy])'); return r.length === 16",
        json!([]),
    );
    assert_eq!(
        bob.get("/v1/conversations/bob/decor/messages?limit=1").json["messages"][0]["role"],
        "assistant"
    );

    browser.click("#creator summary");
    browser.wait_until(
        "the follow-up rules",
        "return document.querySelectorAll('#explain-rules li').length > 3",
        json!([]),
    );
    assert!(
        browser
            .text("#creator-note")
            .starts_with("Seuls les opérateurs")
    );
    let kept = browser.run(
        "return [sessionStorage.getItem('troupe.token'), localStorage.getItem('troupe.token')]",
        json!([]),
    );
    assert_eq!(
        kept,
        json!([token, null]),
        "the token stays in this tab only"
    );
    assert_clean_console(&browser);
}

#[test]
fn a_creator_imports_a_card_in_the_persona_view_sees_the_report_and_exports_it() {
    let downloads = tempfile::tempdir().unwrap();
    let Some(browser) = Browser::launch("a_creator_imports_a_card", downloads.path()) else {
        return;
    };
    let troupe = Troupe::new();
    let dir = troupe.adults_only_personas(true);
    let server = troupe.serve(&["--personas", dir.to_str().unwrap()]);
    let card = troupe.root.path().join("wren.json");
    let text = json!({"spec": "chara_card_v2", "data": {
        "name": "Wren", "description": "A birdwatcher who notices everything.",
        "personality": "quiet, precise", "first_mes": "Shh, {{user}}, listen: a robin.",
        "alternate_greetings": ["Hush, <USER>."],
        "tags": "birds, cozy", "scenario": "A misty marsh at dawn."}});
    std::fs::write(&card, text.to_string()).unwrap();
    let named = server.request(
        "PATCH",
        "/v1/users/ada",
        Some(json!({"display_name": "Ada"})),
    );
    assert_eq!(named.status, 200, "{}", named.text);
    browser.goto(&format!("{}/?user=ada&persona=baker", server.url));
    wait_live(&browser);
    browser.click("#creator summary");

    browser.type_into("#import-file", card.to_str().unwrap());
    let summary = browser.wait_until(
        "the dry-run report",
        "return !document.getElementById('import-report').hidden && document.getElementById('import-summary').textContent",
        json!([]),
    );
    assert_eq!(
        summary,
        "Character Card V2: “Wren” becomes the persona wren (wren.toml)."
    );
    let list = |id: &str| {
        browser.run(
            "return [...document.getElementById(arguments[0]).children].map((li) => li.textContent)",
            json!([id]),
        )
    };
    assert!(
        list("import-mapped")
            .as_array()
            .unwrap()
            .contains(&json!("personality → voice"))
    );
    assert!(
        list("import-kept")
            .as_array()
            .unwrap()
            .contains(&json!("scenario"))
    );
    let ignored = list("import-ignored").to_string();
    assert!(ignored.contains("not a list"), "{ignored}");
    assert!(browser.text("#import-toml").contains("name = \"Wren\""));
    assert!(!dir.join("wren.toml").exists(), "the report writes nothing");
    browser.run(
        "document.getElementById('import-summary').scrollIntoView()",
        json!([]),
    );
    let shot = save_screenshot(&browser, "card-import");
    eprintln!("card import screenshot: {}", shot.display());

    browser.click("#import-write");
    imported(&browser);
    assert!(dir.join("wren.toml").is_file());
    assert_eq!(
        browser.run("return document.getElementById('persona').value", json!([])),
        "wren"
    );
    assert!(
        browser.text("#chat-title").contains("Wren"),
        "the new persona is open"
    );
    let greeted = browser.wait_until(
        "the greeting picked for Ada",
        "return document.querySelector('#log .msg[data-kind=greeting] .text')?.textContent",
        json!([]),
    );
    let picked = server.get("/v1/conversations/ada/wren/greeting");
    assert_eq!(greeted, picked.json["greeting"], "{}", picked.text);
    assert!(
        ["Shh, Ada, listen: a robin.", "Hush, Ada."]
            .contains(&greeted.as_str().unwrap_or_default()),
        "{greeted}"
    );
    assert_eq!(
        list("greetings"),
        json!(["Shh, {{user}}, listen: a robin.", "Hush, <USER>."]),
        "creators see every greeting as written"
    );

    browser.type_into("#import-file", card.to_str().unwrap());
    browser.wait_until(
        "the report again",
        "return !document.getElementById('import-report').hidden",
        json!([]),
    );
    browser.click("#import-write");
    let conflict = browser.wait_until(
        "the replace confirmation",
        "const p = document.getElementById('import-conflict'); return !p.hidden && !document.getElementById('import-replace').hidden && p.textContent",
        json!([]),
    );
    assert_eq!(
        conflict,
        "The persona wren already exists. Replace its file with this one?"
    );
    browser.click("#import-replace");
    imported(&browser);

    browser.click("#export-card-v2");
    let file = downloads.path().join("wren.card-v2.json");
    let exported = browser.wait_for("the card to download", || {
        std::fs::read(&file)
            .ok()
            .filter(|b| serde_json::from_slice::<Value>(b).is_ok())
    });
    assert_eq!(
        exported,
        server.get("/v1/personas/wren/export?format=card-v2").bytes
    );
    assert_clean_console(&browser);
}

/// Waits for the status line to say a card was imported.
fn imported(browser: &Browser) {
    browser.wait_until(
        "the import to be confirmed",
        "return document.getElementById('status').textContent.startsWith('Imported “Wren” as the persona wren') && [...document.querySelectorAll('#persona option')].some((o) => o.value === 'wren')",
        json!([]),
    );
}

/// Waits for the page to be ready with the user's event stream open.
fn wait_live(browser: &Browser) {
    browser.wait_until(
        "the follow-up stream to open",
        "return document.body.dataset.ready === 'true' && document.getElementById('live').dataset.state === 'on'",
        json!([]),
    );
}

fn count(browser: &Browser, css: &str) -> usize {
    browser.find_all(css).len()
}

/// Turning follow-ups on wakes the scheduler; what it writes is pushed to
/// the open page, as the persona's words with disclaimers apart.
fn follow_up_arrives_live(browser: &Browser, server: &crate::support::serve::Served) {
    let on = server.request("PATCH", "/v1/users/alice", Some(json!({"followups": true})));
    assert_eq!(on.status, 200, "{}", on.text);
    let followup = browser.wait_until(
        "the follow-up pushed to the page",
        "const n = document.querySelector('#log [data-kind=followup]');
         return n && {
           classes: n.className,
           text: n.querySelector('.text').textContent,
           tag: n.querySelector('.tag.followup').textContent,
           disclaimers: [...n.querySelectorAll('.disclaimers li')].map((li) => li.textContent),
         };",
        json!([]),
    );
    assert!(followup["classes"].as_str().unwrap().contains("persona"));
    assert_eq!(followup["tag"], "Follow-up");
    let text = followup["text"].as_str().unwrap();
    assert!(text.to_lowercase().contains("risotto"), "{followup}");
    let disclaimers = followup["disclaimers"].as_array().unwrap();
    assert!(!disclaimers.is_empty(), "{followup}");
    for disclaimer in disclaimers {
        assert!(
            !text.contains(disclaimer.as_str().unwrap()),
            "disclaimers are set apart from the persona's words"
        );
    }
}

/// Enter sends; the reply grows in its bubble piece by piece, then matches
/// what the server stored; the AI notice opens the new session.
fn a_message_sent_with_enter_streams_its_reply(
    browser: &Browser,
    server: &crate::support::serve::Served,
) {
    browser.run(
        "window.pieces = 0;
         new MutationObserver((records) => {
           for (const r of records) {
             const text = r.target.classList && r.target.classList.contains('text');
             if (text && r.removedNodes.length === 0 && r.addedNodes.length > 0) window.pieces += 1;
           }
         }).observe(document.getElementById('log'), { childList: true, subtree: true });",
        json!([]),
    );
    browser.type_into(
        "#message",
        &format!("Which wine goes with saffron risotto?{ENTER}"),
    );
    let reply = browser.wait_until(
        "the streamed reply to finish",
        "const r = [...document.querySelectorAll('#log [data-kind=reply]')];
         const last = r[r.length - 1];
         return r.length === 6 && !last.hasAttribute('aria-busy') && last.querySelector('.text').textContent;",
        json!([]),
    );
    let pieces = browser.run("return window.pieces", json!([]));
    assert!(pieces.as_u64().unwrap() >= 3, "streamed in {pieces} pieces");
    let stored = server.get("/v1/conversations/alice/chef/messages?limit=1");
    assert_eq!(stored.json["messages"][0]["text"], reply);
    assert_eq!(
        browser.run("return document.getElementById('message').value", json!([])),
        ""
    );
    let notice = browser.text("#log [data-kind=notice]");
    assert!(notice.contains("an AI, not a person"), "{notice}");
    let order = browser.run(
        "return [...document.querySelectorAll('#log > *')].slice(-3).map((n) => n.dataset.kind)",
        json!([]),
    );
    assert_eq!(order, json!(["user", "notice", "reply"]));
}

/// STOP's confirmation is Troupe's, not the persona's, and the
/// conversation's follow-ups are off.
fn stop_is_confirmed_by_troupe(browser: &Browser, server: &crate::support::serve::Served) {
    browser.click("#stop");
    let control = troupe_bubble(browser, "control");
    assert!(
        control["who"]
            .as_str()
            .unwrap()
            .starts_with("Troupe (not Chef Marco)"),
        "{control}"
    );
    assert!(
        control["text"].as_str().unwrap().contains("won't check in"),
        "{control}"
    );
    let user = server.get("/v1/users/alice");
    assert_eq!(user.json["conversations"][0]["followups"], "off (STOP)");
    browser.wait_until(
        "the settings to show STOP",
        "return document.getElementById('settings-note').textContent.includes('off (STOP)')",
        json!([]),
    );
}

fn a_crisis_is_answered_by_troupe_safety(browser: &Browser) {
    browser.type_into("#message", &format!("I want to end my life{ENTER}"));
    let crisis = troupe_bubble(browser, "crisis");
    assert!(
        crisis["who"]
            .as_str()
            .unwrap()
            .starts_with("Troupe safety (not Chef Marco)")
    );
    assert!(crisis["text"].as_str().unwrap().contains("988"), "{crisis}");
    browser.type_into(
        "#message",
        &format!("my husband is hitting me right now{ENTER}"),
    );
    let danger = browser.wait_until(
        "Troupe's danger bubble",
        "const n = document.querySelector('#log [data-crisis=danger]');
         return n && { who: n.querySelector('.who').textContent, text: n.querySelector('.text').textContent };",
        json!([]),
    );
    assert!(
        danger["who"]
            .as_str()
            .unwrap()
            .starts_with("Troupe safety — urgent (not Chef Marco)"),
        "{danger}"
    );
    assert!(danger["text"].as_str().unwrap().contains("911"), "{danger}");
}

/// The `data-kind` bubble: it is Troupe's (class `troupe`, never `persona`).
fn troupe_bubble(browser: &Browser, kind: &str) -> Value {
    let bubble = browser.wait_until(
        &format!("Troupe's {kind} bubble"),
        "const n = document.querySelector(`#log [data-kind=${arguments[0]}]`);
         return n && {
           classes: n.className,
           who: n.querySelector('.who').textContent,
           text: n.querySelector('.text').textContent,
         };",
        json!([kind]),
    );
    let classes = bubble["classes"].as_str().unwrap();
    assert!(
        classes.contains("troupe") && !classes.contains("persona"),
        "{bubble}"
    );
    bubble
}

fn settings_are_saved_from_the_page(browser: &Browser, server: &crate::support::serve::Served) {
    browser.clear("#timezone");
    browser.type_into("#timezone", "Europe/Paris");
    browser.click("#save-settings");
    browser.wait_until(
        "the settings to be saved",
        "return document.getElementById('status').textContent === 'Settings saved for alice.'",
        json!([]),
    );
    assert_eq!(
        server.get("/v1/users/alice").json["timezone"],
        "Europe/Paris"
    );
}

fn export_downloads_the_user_s_data(browser: &Browser, downloads: &Path) {
    browser.click("#export");
    let file = downloads.join("troupe-export-alice.json");
    let text = browser.wait_for("the export to download", || {
        std::fs::read_to_string(&file)
            .ok()
            .filter(|text| serde_json::from_str::<Value>(text).is_ok())
    });
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["format"], "troupe-export/1");
    assert!(text.contains("Which wine goes with saffron risotto?"));
}

/// Erasing asks first; cancelling keeps everything, confirming erases it.
fn erasure_asks_first_then_erases(browser: &Browser, server: &crate::support::serve::Served) {
    let dialog_open = "return document.getElementById('erase-dialog').open";
    browser.click("#erase");
    browser.wait_until("the erase dialog", dialog_open, json!([]));
    assert!(browser.text("#erase-body").contains("cannot be undone"));
    browser.click("#erase-cancel");
    assert_eq!(browser.run(dialog_open, json!([])), false);
    assert_eq!(
        server.get("/v1/users/alice").status,
        200,
        "cancel keeps everything"
    );
    browser.click("#erase");
    browser.wait_until("the erase dialog", dialog_open, json!([]));
    browser.click("#erase-confirm");
    let status = browser.wait_until(
        "the erasure to be confirmed",
        "const s = document.getElementById('status').textContent; return s.startsWith('Erased') && s",
        json!([]),
    );
    assert!(
        status
            .as_str()
            .unwrap()
            .starts_with("Erased alice: 1 conversation(s), "),
        "{status}"
    );
    assert_eq!(server.get("/v1/users/alice").status, 404);
    let kinds = browser.run(
        "return [...document.querySelectorAll('#log .msg')].map((n) => n.dataset.kind)",
        json!([]),
    );
    assert_eq!(kinds, json!(["greeting"]), "the page starts over");
}

/// The page broke no rule of its Content-Security-Policy and threw nothing.
fn assert_clean_console(browser: &Browser) {
    let problems: Vec<String> = browser
        .console_log()
        .into_iter()
        .filter(|line| {
            ["Content Security Policy", "Refused to", "Uncaught"]
                .iter()
                .any(|p| line.contains(p))
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Saves a screenshot under `target/console-screenshots/` after checking it
/// is a whole PNG of the window.
fn save_screenshot(browser: &Browser, name: &str) -> PathBuf {
    let png = browser.screenshot();
    let (width, height) = png_size(&png).expect("the screenshot is a PNG");
    assert!(width >= 800 && height >= 600, "{width}x{height}");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    path
}

/// `target/console-screenshots`, next to the build's profile directory.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    target.join("console-screenshots")
}
