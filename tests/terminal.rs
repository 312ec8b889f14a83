//! No text from outside reaches a terminal with escape sequences or bidi
//! controls in it: not from a persona file, not from a model server's
//! error body (on stderr and in the logs), not from a follow-up or a reply
//! (on stdout and in the store), not from messages stored by earlier
//! releases.

use std::path::PathBuf;

use crate::support::server::{Reply, TestServer};
use crate::support::{Run, Troupe};

/// What no output may hold: control characters but newline and tab
/// (ESC, BEL, CR, DEL, the C1 CSI and OSC…) and the bidirectional controls.
/// Written out here, apart from Troupe's own list, so the test checks it.
fn unprintable(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            let control = c.is_control() && *c != '\n' && *c != '\t';
            let bidi = matches!(*c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            control || bidi
        })
        .collect()
}

/// Fails unless both streams of `run` are free of unprintable characters.
fn assert_printable(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let found = unprintable(text);
        assert!(
            found.is_empty(),
            "{what}: {stream} holds {found:?}: {text:?}"
        );
    }
}

/// An OSC 52 sequence: it writes `rm -rf ~` into the operator's clipboard.
const OSC52: &str = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}";

/// A personas dir with `hostile.toml`, whose texts are full of escapes
/// (written as TOML escapes), and the baker.
fn hostile_personas(troupe: &Troupe) -> PathBuf {
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hostile.toml"),
        r#"name = "Chef \u001b]52;c;cm0gLXJmIH4=\u0007Marco"
description = "A chef \u001b[2J who clears screens"
language = "en"
voice = "Warm."
greeting = "Ciao \u202Eorcam"
disclaimers = ["Check \u009b31m your allergies"]
ai_notice = "An AI \u001b]0;pwned\u0007 chef"
"#,
    )
    .unwrap();
    std::fs::copy(
        crate::support::fixture("good/baker.toml"),
        dir.join("baker.toml"),
    )
    .unwrap();
    dir
}

#[test]
fn escapes_in_a_persona_file_are_refused_at_their_position_and_never_printed() {
    let troupe = Troupe::new();
    let dir = hostile_personas(&troupe);
    let dir_arg = dir.to_str().unwrap();
    let check = troupe.run(&["personas", "check", dir_arg]);
    assert_eq!(check.code, 1);
    let file = dir.join("hostile.toml").display().to_string();
    let all = format!("{}{}", check.stdout, check.stderr);
    for expected in [
        format!("{file}:1:14: \"name\" holds U+001B (ESC"),
        format!("{file}:2:23: \"description\" holds U+001B"),
        format!("{file}:5:18: \"greeting\" holds U+202E (right-to-left override)"),
        format!("{file}:6:23: \"disclaimers\" holds U+009B"),
        format!("{file}:7:20: \"ai_notice\" holds U+001B"),
    ] {
        assert!(all.contains(&expected), "{expected}\n{all}");
    }
    assert_printable("personas check", &check);

    for args in [
        vec!["--personas", dir_arg, "personas", "list"],
        vec!["--personas", dir_arg, "personas", "list", "--json"],
        vec!["--personas", dir_arg, "personas", "show", "hostile"],
        vec!["--personas", dir_arg, "chat", "hostile", "--message", "hi"],
        vec!["--personas", dir_arg, "chat", "baker", "--message", "hi"],
    ] {
        let run = troupe.run(&args);
        assert_printable(&args.join(" "), &run);
        assert!(!run.stdout.contains("Marco"), "skipped: {}", run.stdout);
    }
}

#[test]
fn escapes_in_a_model_servers_error_body_reach_neither_stderr_nor_the_logs() {
    let json_body = r#"{"error":{"message":"quota \u001b]52;c;cm0gLXJmIH4=\u0007 gone \u202Eexe.txt \u009b2J"}}"#;
    let plain_body = "oops \u{1b}]52;c;cm0gLXJmIH4=\u{7} \u{1b}[2J broken\r\n";
    for body in [json_body, plain_body] {
        let mut script = vec![Reply::Text("fine"); 5];
        script.push(Reply::Status(400, body));
        let server = TestServer::start(script);
        let mut troupe = Troupe::with_server(&server.base_url);
        troupe.env("RUST_LOG", "troupe=debug");
        troupe.five_messages("tester", &[]);
        let chat = troupe.run(&[
            "--now",
            "2026-11-02T11:00:00Z",
            "chat",
            "chef",
            "--message",
            "one more",
        ]);
        assert_eq!(chat.code, 1, "{}", chat.stderr);
        assert!(
            chat.stderr.contains("refused the request (HTTP 400: "),
            "{}",
            chat.stderr
        );
        assert_printable("chat --message", &chat);

        // The follow-up falls back to its template and logs the error.
        let run = troupe.run(&["--now", "2026-11-04T12:00:00Z", "followups", "run"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr.contains("follow-up model call failed"),
            "logged: {}",
            run.stderr
        );
        assert_printable("followups run", &run);
        let export = troupe.run(&["export", "--user", "tester"]);
        assert!(
            !export.stdout.contains("52;c;") && !export.stdout.contains("\\u001b"),
            "nothing of it is stored: {}",
            export.stdout
        );
    }
}

#[test]
fn a_followup_with_escapes_is_printed_and_stored_clean() {
    let mut script = vec![Reply::Text("fine"); 5];
    script.push(Reply::Text(
        "Ciao \u{1b}]52;c;cm0gLXJmIH4=\u{7}! How did the \u{202E}risotto\u{202C} go?\u{9b}2J",
    ));
    let server = TestServer::start(script);
    let troupe = Troupe::with_server(&server.base_url);
    troupe.five_messages("tester", &[]);
    let run = troupe.run(&["--now", "2026-11-04T12:00:00Z", "followups", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("chef → tester: Ciao ]52;c;cm0gLXJmIH4=! How did the risotto go?2J"),
        "{}",
        run.stdout
    );
    assert_printable("followups run", &run);
    let history = troupe.history("chef");
    let followup = history.last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        followup,
        "Ciao ]52;c;cm0gLXJmIH4=! How did the risotto go?2J"
    );
    let console = troupe.run_with_input(&["chat", "chef"], b"/quit\n");
    assert!(console.stdout.contains("How did the risotto go?"));
    assert_printable("the console showing the follow-up", &console);
}

#[test]
fn a_reply_with_escapes_is_stored_clean_keeping_newlines_and_tabs() {
    let server = TestServer::start(vec![Reply::Text(
        "Step 1:\tboil\u{1b}[2J\u{1b}]52;c;cm0gLXJmIH4=\u{7}\r\nStep 2: \u{202E}serve\u{7f}",
    )]);
    let troupe = Troupe::with_server(&server.base_url);
    for args in [
        vec!["chat", "chef", "--message", "how?"],
        vec!["chat", "chef", "--message", "how?", "--json"],
    ] {
        let run = troupe.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_printable(&args.join(" "), &run);
    }
    let console = troupe.run_with_input(&["chat", "chef"], b"and then?\n/history\n");
    assert!(
        console.stdout.contains("Step 2: serve"),
        "{}",
        console.stdout
    );
    assert_printable("the console", &console);
    let history = troupe.history("chef");
    assert_eq!(history.len(), 6);
    for reply in history.iter().skip(1).step_by(2) {
        assert_eq!(
            reply["text"],
            "Step 1:\tboil[2J]52;c;cm0gLXJmIH4=\nStep 2: serve"
        );
    }
}

#[test]
fn messages_stored_by_earlier_releases_are_shown_without_their_escapes() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hi"]).code, 0);
    let stored = format!("old {OSC52}reply \u{202E}desrever\u{202C} and \u{9d}0;title\u{7}");
    {
        let store = troupe::store::Store::open(&troupe.data_dir()).expect("open the store");
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let message = troupe::store::Message::reply(stored.clone(), at, "old-model");
        store
            .append(
                "tester",
                "chef",
                &message,
                &troupe::store::AppendEffects::NONE,
            )
            .expect("append");
    }
    let text = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert!(
        text.stdout
            .contains("Chef Marco: old ]52;c;cm0gLXJmIH4=reply desrever and 0;title"),
        "{}",
        text.stdout
    );
    assert_printable("history", &text);
    let json = troupe.run(&["history", "--user", "tester", "--persona", "chef", "--json"]);
    assert_printable("history --json", &json);
    assert_eq!(
        json.json()["messages"][2]["text"],
        stored.as_str(),
        "JSON keeps the data, escaped"
    );
    let console = troupe.run_with_input(&["chat", "chef"], b"/history\n");
    assert!(console.stdout.contains("desrever"), "{}", console.stdout);
    assert_printable("/history in the console", &console);
}
