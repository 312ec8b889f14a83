//! The console with stdin not a terminal: each line is one message.

use crate::support::Troupe;
use crate::support::server::{Reply, TestServer};

#[test]
fn piped_lines_are_messages_and_slash_commands_work() {
    let server = TestServer::start(vec![Reply::Text("A reply.")]);
    let troupe = Troupe::with_server(&server.base_url);
    let script = "first line\n/help\nsecond line\n/history\n/switch decor\nbonjour\n/nonsense\n/quit\nnever sent\n";
    let run = troupe.run_with_input(
        &["--now", "2026-11-26T09:30:00Z", "chat", "chef"],
        script.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("[You are chatting with Chef Marco, an AI"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Chef Marco: Ciao!"));
    assert!(run.stdout.contains("/switch ID"), "help is shown");
    assert!(
        run.stdout.contains("[2026-11-26 09:30] you: first line"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("[Vous discutez avec Élise, une IA"));
    assert!(run.stderr.contains("unknown command /nonsense"));
    let sent: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.messages().last().unwrap().1.clone())
        .collect();
    assert_eq!(sent, ["first line", "second line", "bonjour"]);
    let chef = troupe.history("chef");
    assert_eq!(chef.len(), 4);
    assert_eq!(chef[0]["at"], "2026-11-26T09:30:00Z");
    assert_eq!(troupe.history("decor").len(), 2);
}

#[test]
fn invalid_utf8_on_stdin_is_an_error_not_a_panic() {
    let troupe = Troupe::new();
    let run = troupe.run_with_input(&["chat", "chef"], b"hello\n\xff\xfe bad\n");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("line 2 of stdin is not valid UTF-8"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
    assert_eq!(
        troupe.history("chef").len(),
        2,
        "the valid first line was kept with its reply"
    );
}

#[test]
fn over_long_and_empty_messages_are_refused_without_storing_anything() {
    let troupe = Troupe::new();
    let long = "a".repeat(5000);
    let run = troupe.run(&["chat", "chef", "--message", &long]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the limit is 4000"), "{}", run.stderr);
    let run = troupe.run(&["chat", "chef", "--message", " \u{7} "]);
    assert!(
        run.stderr.contains("the message is empty"),
        "{}",
        run.stderr
    );
    assert!(troupe.history("chef").is_empty());

    let piped = troupe.run_with_input(&["chat", "chef"], format!("{long}\nhi\n").as_bytes());
    assert_eq!(piped.code, 1);
    assert!(
        piped
            .stderr
            .contains("1 message(s) were refused and not saved")
            && !piped.stderr.contains("they are saved"),
        "{}",
        piped.stderr
    );
    assert_eq!(troupe.history("chef").len(), 2, "only \"hi\" and its reply");
}

#[test]
fn erasure_also_removes_a_console_history_file_left_by_earlier_releases() {
    let troupe = Troupe::new();
    let dir = troupe.data_dir().join("console_history");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("carol"), "typed-by-carol\n").unwrap();
    let run = troupe.run(&["erase", "--user", "carol", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!dir.join("carol").exists());
}

#[test]
fn in_the_console_helplines_come_from_troupe_not_the_persona() {
    let troupe = Troupe::new();
    let run = troupe.run_with_input(&["chat", "chef"], b"I want to end my life\n/history\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\nTroupe: I'm really sorry"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Chef Marco: I'm really sorry"));
    assert!(
        run.stdout.contains("] Troupe: I'm really sorry"),
        "/history too"
    );
}

#[test]
fn in_the_console_danger_gets_troupe_s_emergency_numbers_in_the_persona_s_language() {
    let troupe = Troupe::new();
    let run = troupe.run_with_input(
        &["chat", "decor"],
        "mon copain me frappe en ce moment, je suis enfermée dans la salle de bain\n".as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\nTroupe: Vous semblez en danger"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("3919"), "{}", run.stdout);
}

/// A V2 card whose greeting names the user and the character by macro.
fn greeting_card() -> serde_json::Value {
    serde_json::json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Gwen",
        "description": "A knight errant of the northern marches.",
        "first_mes": "Hi {{user}}, I'm {{char}}. <USER>, the road is long.",
    }})
}

#[test]
fn the_console_greets_with_the_card_greeting_macros_expanded_here_and_through_a_server() {
    let troupe = Troupe::new();
    let (dir, _) = troupe.import_card(&troupe.root.path().join("gwen.json"), &greeting_card());
    let dir = dir.to_str().expect("utf-8");
    let named = troupe.run(&["user", "set", "tester", "--name", "Ana"]);
    assert_eq!(named.code, 0, "{}", named.stderr);
    let expected = "Gwen: Hi Ana, I'm Gwen. Ana, the road is long.";

    let here = troupe.run_with_input(&["--personas", dir, "chat", "gwen"], b"/quit\n");
    assert_eq!(here.code, 0, "{}", here.stderr);
    assert!(here.stdout.contains(expected), "{}", here.stdout);
    assert!(!here.stdout.contains("{{"), "{}", here.stdout);

    let unnamed = troupe.run_with_input(
        &["--personas", dir, "chat", "gwen", "--user", "bo"],
        b"/quit\n",
    );
    assert!(
        unnamed.stdout.contains("Gwen: Hi User, I'm Gwen."),
        "a user with no display name is User: {}",
        unnamed.stdout
    );

    let server = troupe.serve(&["--personas", dir]);
    let served = troupe.run_with_input(&["--personas", dir, "chat", "gwen"], b"/quit\n");
    assert_eq!(served.code, 0, "{}", served.stderr);
    assert!(served.stdout.contains(expected), "{}", served.stdout);
    let asked = server.get("/v1/conversations/tester/gwen/greeting");
    assert_eq!(
        asked.json["greeting"],
        "Hi Ana, I'm Gwen. Ana, the road is long."
    );
}

#[test]
fn the_greetings_command_lists_every_greeting_the_persona_can_open_with() {
    let troupe = Troupe::new();
    let mut card = greeting_card();
    card["data"]["alternate_greetings"] =
        serde_json::json!(["Well met, {{user}}.", "The fire is lit; sit down."]);
    let (dir, _) = troupe.import_card(&troupe.root.path().join("gwen.json"), &card);
    let dir = dir.to_str().expect("utf-8");
    let out = troupe.run_with_input(&["--personas", dir, "chat", "gwen"], b"/greetings\n/quit\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "Gwen can open with:",
        "  1. Hi {{user}}, I'm {{char}}.",
        "  2. Well met, {{user}}.",
        "  3. The fire is lit; sit down.",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in {}", out.stdout);
    }
}
