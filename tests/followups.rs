//! Follow-ups walked through time with `--now`: the guardrails, topics and
//! disclaimers, the fallback, bounded concurrency, and exactly-once delivery.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::server::{Reply, TestServer};
use crate::support::{Troupe, fixture};

/// Sends `text` as `user` to `persona` at `now`.
fn say(troupe: &Troupe, now: &str, persona: &str, text: &str) {
    let run = troupe.run(&[
        "--now",
        now,
        "chat",
        persona,
        "--user",
        "tester",
        "--message",
        text,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn due(troupe: &Troupe, now: &str) -> Vec<Value> {
    let run = troupe.run(&["--now", now, "followups", "due", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().cloned().unwrap_or_default()
}

fn run_followups(troupe: &Troupe, now: &str) -> Vec<Value> {
    let run = troupe.run(&["--now", now, "followups", "run", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().cloned().unwrap_or_default()
}

fn rule(troupe: &Troupe, now: &str, persona: &str, name: &str) -> Value {
    let run = troupe.run(&[
        "--now",
        now,
        "followups",
        "explain",
        "--user",
        "tester",
        "--persona",
        persona,
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let verdict = run.json();
    verdict["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["rule"] == name).cloned())
        .unwrap_or_else(|| panic!("no rule {name} in {verdict}"))
}

#[test]
fn fifth_message_makes_conversation_due_after_the_silence() {
    let troupe = Troupe::new();
    for i in 0..4 {
        say(
            &troupe,
            &format!("2026-11-02T10:{i}0:00Z"),
            "chef",
            "tell me about risotto",
        );
    }
    assert!(
        due(&troupe, "2026-11-04T12:00:00Z").is_empty(),
        "four messages are not enough"
    );
    assert_eq!(
        rule(
            &troupe,
            "2026-11-04T12:00:00Z",
            "chef",
            "enough_recent_messages"
        )["pass"],
        false
    );

    say(&troupe, "2026-11-02T10:40:00Z", "chef", "and about saffron");
    assert!(
        due(&troupe, "2026-11-02T18:00:00Z").is_empty(),
        "not before 24 hours of silence"
    );
    let now_due = due(&troupe, "2026-11-03T11:00:00Z");
    assert_eq!(now_due.len(), 1);
    assert_eq!(now_due[0]["user"], "tester");
    assert_eq!(now_due[0]["persona"], "chef");
    assert_eq!(now_due[0]["recent_user_messages"], 5);
}

#[test]
fn one_followup_is_sent_then_nothing_while_the_user_stays_silent() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    let sent = run_followups(&troupe, "2026-11-03T12:00:00Z");
    assert_eq!(sent.len(), 1);
    for later in [
        "2026-11-03T13:00:00Z",
        "2026-11-06T12:00:00Z",
        "2026-11-12T12:00:00Z",
    ] {
        assert!(due(&troupe, later).is_empty());
        assert!(
            run_followups(&troupe, later).is_empty(),
            "no second try at {later}"
        );
    }
    let check = rule(
        &troupe,
        "2026-11-12T12:00:00Z",
        "chef",
        "no_unanswered_followup",
    );
    assert_eq!(check["pass"], false);
    assert!(
        check["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("still unanswered")
    );
    let followups: Vec<_> = troupe
        .history("chef")
        .into_iter()
        .filter(|m| m["kind"] == "follow-up")
        .collect();
    assert_eq!(followups.len(), 1);
    assert_eq!(followups[0]["at"], "2026-11-03T12:00:00Z");
}

#[test]
fn the_user_answering_makes_the_conversation_eligible_again_later() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    assert_eq!(run_followups(&troupe, "2026-11-03T12:00:00Z").len(), 1);
    say(
        &troupe,
        "2026-11-04T09:00:00Z",
        "chef",
        "It was delicious, thanks!",
    );
    assert!(
        due(&troupe, "2026-11-04T20:00:00Z").is_empty(),
        "the silence starts again"
    );
    assert_eq!(due(&troupe, "2026-11-05T10:00:00Z").len(), 1);
    assert_eq!(run_followups(&troupe, "2026-11-05T10:00:00Z").len(), 1);
}

#[test]
fn messages_older_than_the_window_stop_counting() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    assert_eq!(
        due(&troupe, "2026-11-15T12:00:00Z").len(),
        1,
        "day 13: still inside 14 days"
    );
    assert!(
        due(&troupe, "2026-11-17T12:00:00Z").is_empty(),
        "day 15: the messages have aged out"
    );
    let check = rule(
        &troupe,
        "2026-11-17T12:00:00Z",
        "chef",
        "enough_recent_messages",
    );
    assert_eq!(check["pass"], false);
    assert_eq!(
        check["detail"],
        "0 user message(s) in the last 14 day(s); 5 needed"
    );
}

#[test]
fn quiet_hours_follow_the_users_own_time_zone() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    assert!(
        due(&troupe, "2026-11-03T22:30:00Z").is_empty(),
        "22:30 is quiet for a user on UTC"
    );
    let set = troupe.run(&["user", "set", "tester", "--timezone", "America/New_York"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(
        due(&troupe, "2026-11-03T22:30:00Z").len(),
        1,
        "17:30 in New York"
    );
    troupe.run(&["user", "set", "tester", "--timezone", "Asia/Tokyo"]);
    assert!(
        due(&troupe, "2026-11-03T12:30:00Z").is_empty(),
        "21:30 in Tokyo"
    );
    assert_eq!(
        due(&troupe, "2026-11-04T02:00:00Z").len(),
        1,
        "11:00 in Tokyo"
    );
    let bad = troupe.run(&["user", "set", "tester", "--timezone", "Mars/Olympus"]);
    assert_eq!(bad.code, 2, "a usage error");
    assert!(
        bad.stderr.contains("unknown time zone \"Mars/Olympus\""),
        "{}",
        bad.stderr
    );
}

#[test]
fn an_opted_out_user_is_never_due_until_they_start_again() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    let stop = troupe.run(&[
        "--now",
        "2026-11-02T11:00:00Z",
        "chat",
        "chef",
        "--user",
        "tester",
        "--message",
        "STOP",
    ]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert!(
        stop.stdout.contains("won't check in with you anymore"),
        "{}",
        stop.stdout
    );
    assert!(stop.stdout.contains("/start"));
    assert_eq!(
        troupe.history("chef").len(),
        10,
        "STOP is not stored as chat"
    );
    for later in ["2026-11-03T12:00:00Z", "2026-11-08T12:00:00Z"] {
        assert!(due(&troupe, later).is_empty());
        assert!(run_followups(&troupe, later).is_empty());
    }
    assert_eq!(
        rule(&troupe, "2026-11-03T12:00:00Z", "chef", "not_opted_out")["pass"],
        false
    );
    let again = troupe.run(&[
        "--now",
        "2026-11-02T11:05:00Z",
        "chat",
        "chef",
        "--user",
        "tester",
        "--message",
        "STOP",
    ]);
    assert!(
        again.stdout.contains("already"),
        "confirmed once: {}",
        again.stdout
    );
    let start = troupe.run_with_input(
        &[
            "--now",
            "2026-11-02T11:10:00Z",
            "chat",
            "chef",
            "--user",
            "tester",
        ],
        b"/start\n",
    );
    assert!(
        start
            .stdout
            .contains("may check in with you now and then again"),
        "{}",
        start.stdout
    );
    assert_eq!(due(&troupe, "2026-11-03T12:00:00Z").len(), 1);
}

#[test]
fn a_stricter_persona_waits_for_more_messages_and_a_looser_one_is_rejected() {
    let troupe = Troupe::new();
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(
        dir.join("baker.toml"),
        format!("{baker}\n[followups]\nmin_user_messages = 7\n"),
    )
    .unwrap();
    let personas = dir.to_str().unwrap().to_string();
    for i in 0..5 {
        let now = format!("2026-11-02T10:{:02}:00Z", i * 5);
        let run = troupe.run(&[
            "--personas",
            &personas,
            "--now",
            &now,
            "chat",
            "baker",
            "--user",
            "tester",
            "--message",
            "sourdough starter",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let due_now = |t: &Troupe| {
        t.run(&[
            "--personas",
            &personas,
            "--now",
            "2026-11-03T12:00:00Z",
            "followups",
            "due",
            "--json",
        ])
        .json()
    };
    assert_eq!(due_now(&troupe), serde_json::json!([]), "5 < 7");
    for i in 5..7 {
        let now = format!("2026-11-02T10:{:02}:00Z", i * 5);
        troupe.run(&[
            "--personas",
            &personas,
            "--now",
            &now,
            "chat",
            "baker",
            "--user",
            "tester",
            "--message",
            "rye flour",
        ]);
    }
    assert_eq!(due_now(&troupe).as_array().map(Vec::len), Some(1));

    std::fs::write(
        dir.join("baker.toml"),
        format!("{baker}\n[followups]\nwindow_days = 30\n"),
    )
    .unwrap();
    let rejected = troupe.run(&["--personas", &personas, "followups", "due"]);
    assert_eq!(rejected.code, 1);
    assert!(
        rejected.stderr.contains(
            "baker.toml:9:1: \"followups.window_days\" is 30, longer than the deployment's 14"
        ),
        "{}",
        rejected.stderr
    );
}

#[test]
fn the_model_gets_the_topics_and_the_followup_ends_with_disclaimers_in_the_persona_language() {
    let server = TestServer::start(vec![Reply::Text(
        "\"Alors, ce vert sauge dans le salon, vous avez osé ?\"",
    )]);
    let troupe = Troupe::with_server(&server.base_url);
    for (i, text) in [
        "Je voudrais repeindre mon salon en vert sauge",
        "Le salon fait 14 m² et donne au nord",
        "Est-ce que le vert sauge assombrit une pièce ?",
        "Et pour les rideaux avec du vert sauge ?",
        "Merci, je vais acheter la peinture samedi",
    ]
    .iter()
    .enumerate()
    {
        say(&troupe, &format!("2026-11-02T10:{i}0:00Z"), "decor", text);
    }
    let topics = troupe
        .run(&[
            "--now",
            "2026-11-03T12:00:00Z",
            "topics",
            "--user",
            "tester",
            "--persona",
            "decor",
            "--json",
        ])
        .json();
    assert_eq!(topics[0]["phrase"], "vert sauge", "{topics}");

    let sent = run_followups(&troupe, "2026-11-03T12:00:00Z");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["text"],
        "Alors, ce vert sauge dans le salon, vous avez osé ?"
    );
    assert_eq!(
        sent[0]["disclaimers"][0],
        "Les réponses d'une IA peuvent être inexactes ou inappropriées et ne devraient pas être utilisées pour prendre des décisions importantes."
    );
    let request = server.last();
    let messages = request.messages();
    let instruction = &messages.last().unwrap().1;
    assert!(
        instruction.contains("Topics they talked about with you, most important first: vert sauge"),
        "{instruction}"
    );
    assert!(instruction.contains("in French"));
    assert!(instruction.contains("User: Merci, je vais acheter la peinture samedi"));
    assert!(request.messages()[0].1.starts_with("You are Élise."));

    let stored = troupe.history("decor").pop().unwrap();
    assert_eq!(stored["kind"], "follow-up");
    assert_eq!(
        stored["text"],
        "Alors, ce vert sauge dans le salon, vous avez osé ?"
    );
    assert_eq!(stored["disclaimers"].as_array().map(Vec::len), Some(2));

    let console = troupe.run_with_input(
        &[
            "--now",
            "2026-11-04T09:00:00Z",
            "chat",
            "decor",
            "--user",
            "tester",
        ],
        b"",
    );
    let shown = console.stdout;
    let away = shown
        .find("Pendant votre absence, Élise vous a écrit")
        .expect("the follow-up is shown");
    let greeting = shown
        .find("Élise: Bonjour ! Je suis Élise")
        .expect("the greeting is shown");
    assert!(away < greeting, "{shown}");
    assert!(
        shown.contains("vous avez osé ?\n— Les réponses d'une IA peuvent être inexactes"),
        "{shown}"
    );
    let again = troupe.run_with_input(
        &[
            "--now",
            "2026-11-04T09:05:00Z",
            "chat",
            "decor",
            "--user",
            "tester",
        ],
        b"",
    );
    assert!(
        !again.stdout.contains("Pendant votre absence"),
        "shown once"
    );
}

#[test]
fn a_failing_model_falls_back_to_the_persona_template() {
    let mut script = vec![Reply::Text("ok"); 5];
    script.push(Reply::Status(
        404,
        r#"{"error":{"message":"model not found"}}"#,
    ));
    let server = TestServer::start(script);
    let troupe = Troupe::with_server(&server.base_url);
    say(
        &troupe,
        "2026-11-02T10:00:00Z",
        "chef",
        "I want to bake sourdough bread",
    );
    for i in 1..5 {
        say(
            &troupe,
            &format!("2026-11-02T10:{i}0:00Z"),
            "chef",
            "sourdough bread again",
        );
    }
    let sent = run_followups(&troupe, "2026-11-03T12:00:00Z");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "template");
    assert_eq!(
        sent[0]["text"],
        "Hi, it's Chef Marco! I was thinking about our chat about sourdough bread. Did you get to try it? Tell me how it went, or what you'd like to cook next."
    );
    let usage = troupe.run(&["usage", "--json"]).json();
    assert_eq!(
        usage[0]["calls"], 6,
        "five chat turns and the failed follow-up call"
    );
    assert_eq!(usage[0]["failed"], 1);
}

#[test]
fn conversations_are_written_concurrently_but_bounded() {
    let server = TestServer::start_slow(
        vec![Reply::Text("Checking in!")],
        Duration::from_millis(250),
    );
    let mut troupe = Troupe::with_server(&server.base_url);
    let config = troupe.work_dir().join("troupe.toml");
    std::fs::write(&config, "[followups]\nconcurrency = 3\n").unwrap();
    let populate = troupe.run(&[
        "--now",
        "2026-11-26T12:00:00Z",
        "dev",
        "populate",
        "--conversations",
        "400",
        "--due-percent",
        "5",
        "--json",
    ]);
    assert_eq!(populate.code, 0, "{}", populate.stderr);
    let due_count = populate.json()["due"].as_u64().unwrap_or_default() as usize;
    assert!(due_count >= 6, "populate made {due_count} due");
    troupe.env("TROUPE_CONFIG", config.to_str().unwrap());
    let sent = run_followups(&troupe, "2026-11-26T12:00:00Z");
    assert_eq!(sent.len(), due_count);
    assert_eq!(server.received().len(), due_count);
    assert_eq!(server.max_in_flight(), 3, "three at a time, never more");
}

#[test]
fn a_run_killed_mid_batch_and_run_again_delivers_every_followup_exactly_once() {
    let troupe = Troupe::new();
    let now = "2026-11-26T12:00:00Z";
    let populate = troupe.run(&[
        "--now",
        now,
        "dev",
        "populate",
        "--conversations",
        "3000",
        "--due-percent",
        "40",
        "--no-messages",
        "--json",
    ]);
    assert_eq!(populate.code, 0, "{}", populate.stderr);
    let due_before = due(&troupe, now).len();
    assert!(due_before > 1000, "{due_before} due");

    // Kill -9 after the 200th delivery, twice, then let a run finish.
    for _ in 0..2 {
        let delivered =
            troupe.kill_followup_run_after(&["-v", "--now", now, "followups", "run"], 200);
        assert_eq!(delivered, 200, "the run was cut mid-batch");
    }
    let rest = run_followups(&troupe, now);
    assert!(
        rest.len() < due_before,
        "the killed runs had delivered some"
    );
    assert!(due(&troupe, now).is_empty());

    let store = troupe::store::Store::open(&troupe.data_dir()).expect("open the store");
    assert!(
        store.pending_intents().expect("intents").is_empty(),
        "no intent left behind"
    );
    let mut with_followup = 0;
    for conversation in store.conversations() {
        let conversation = conversation.expect("readable");
        let followups = store
            .messages(&conversation)
            .expect("messages")
            .iter()
            .filter(|m| {
                m.kind == troupe::store::MessageKind::FollowUp
                    && m.at.to_rfc3339() == "2026-11-26T12:00:00+00:00"
            })
            .count();
        assert!(
            followups <= 1,
            "{} / {} got {followups} follow-ups",
            conversation.user,
            conversation.persona
        );
        with_followup += followups;
    }
    assert_eq!(
        with_followup, due_before,
        "every due conversation got exactly one"
    );
}

#[test]
fn a_dry_run_writes_but_stores_nothing_and_limit_caps_a_run() {
    let troupe = Troupe::new();
    let now = "2026-11-26T12:00:00Z";
    let populate = troupe.run(&[
        "--now",
        now,
        "dev",
        "populate",
        "--conversations",
        "300",
        "--due-percent",
        "10",
        "--json",
    ]);
    assert_eq!(populate.code, 0, "{}", populate.stderr);
    let due_count = due(&troupe, now).len();
    assert!(due_count >= 5, "{due_count} due");

    let dry = troupe.run(&["--now", now, "followups", "run", "--dry-run", "--json"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let previews = dry.json();
    assert_eq!(previews.as_array().map(Vec::len), Some(due_count));
    assert!(
        previews[0]["disclaimers"][0]
            .as_str()
            .is_some_and(|d| d.contains("AI"))
    );
    assert_eq!(
        due(&troupe, now).len(),
        due_count,
        "a dry run delivers nothing"
    );

    let limited = troupe.run(&["--now", now, "followups", "run", "--limit", "2", "--json"]);
    assert_eq!(limited.json().as_array().map(Vec::len), Some(2));
    assert_eq!(due(&troupe, now).len(), due_count - 2);
    let text = troupe.run(&["--now", now, "followups", "run"]);
    assert!(
        text.stdout
            .trim_end()
            .ends_with(&format!("sent {} follow-up(s)", due_count - 2)),
        "{}",
        text.stdout
    );
}

#[test]
fn watch_sends_on_each_tick_and_stops_cleanly_on_sigterm() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    let mut child = troupe
        .command(&[
            "--now",
            "2026-11-03T12:00:00Z",
            "followups",
            "watch",
            "--every",
            "1h",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains(" sent ") {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).expect("first tick"),
            0,
            "watch exited early"
        );
    }
    assert!(line.contains("sent 1 follow-up(s)"), "{line}");
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(term.success());
    let status = child.wait().expect("watch exits");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("read the rest");
    assert!(status.success(), "{status:?}: {rest}");
    assert!(rest.contains("stopping"), "{rest}");
    let followups = troupe
        .history("chef")
        .into_iter()
        .filter(|m| m["kind"] == "follow-up")
        .count();
    assert_eq!(followups, 1);
}

#[test]
fn an_intent_left_by_a_killed_run_is_dropped_if_the_user_said_stop_meanwhile() {
    let troupe = Troupe::new();
    troupe.five_messages("tester", &[]);
    {
        let store = troupe::store::Store::open(&troupe.data_dir()).expect("open the store");
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-03T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let recorded = store
            .record_intent("tester", "chef", at, &|_| true)
            .expect("record");
        assert!(recorded.is_some(), "the intent a killed run leaves behind");
    }
    say(&troupe, "2026-11-03T12:05:00Z", "chef", "STOP");
    assert!(run_followups(&troupe, "2026-11-03T12:10:00Z").is_empty());
    let store = troupe::store::Store::open(&troupe.data_dir()).expect("open the store");
    assert!(
        store.pending_intents().expect("intents").is_empty(),
        "the stale intent is gone"
    );
    drop(store);
    assert!(
        troupe
            .history("chef")
            .iter()
            .all(|m| m["kind"] != "follow-up")
    );
}

#[test]
fn stop_before_the_first_message_sticks() {
    let troupe = Troupe::new();
    say(&troupe, "2026-11-02T09:00:00Z", "chef", "stop");
    troupe.five_messages("tester", &[]);
    assert!(due(&troupe, "2026-11-03T12:00:00Z").is_empty());
    assert_eq!(
        rule(&troupe, "2026-11-03T12:00:00Z", "chef", "not_opted_out")["pass"],
        false
    );
}

#[test]
fn personas_check_applies_the_deployment_policy_and_backends() {
    let troupe = Troupe::new();
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(
        dir.join("baker.toml"),
        format!("{baker}\n[model]\nbackend = \"gpu\"\n\n[followups]\nmin_user_messages = 2\n"),
    )
    .unwrap();
    let run = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("baker.toml:9:1: \"model.backend\" is \"gpu\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "baker.toml:12:1: \"followups.min_user_messages\" is 2, fewer than the deployment's 5"
        ),
        "{}",
        run.stderr
    );
}

/// Three messages to the chef, not due under the default policy (5), then
/// the deployment loosens it to 3.
fn three_messages_then_a_looser_policy() -> Troupe {
    three_messages_then_a_looser_policy_in(Troupe::new())
}

/// [`three_messages_then_a_looser_policy`] in `troupe`'s store.
fn three_messages_then_a_looser_policy_in(troupe: Troupe) -> Troupe {
    for i in 0..3 {
        say(
            &troupe,
            &format!("2026-11-02T10:{i}0:00Z"),
            "chef",
            "focaccia",
        );
    }
    assert!(due(&troupe, "2026-11-03T12:00:00Z").is_empty(), "3 < 5");
    troupe.write_config("[followups]\nmin_user_messages = 3\n");
    troupe
}

#[test]
fn a_loosened_policy_reaches_existing_conversations_without_a_manual_reindex() {
    let troupe = three_messages_then_a_looser_policy();
    assert_eq!(
        due(&troupe, "2026-11-03T12:00:00Z").len(),
        1,
        "the due index follows the policy it was built under"
    );
    let sent = run_followups(&troupe, "2026-11-03T12:00:00Z");
    assert_eq!(sent.len(), 1);
}

#[test]
fn reindex_applies_a_loosened_policy_to_existing_conversations() {
    assert_reindex_applies_a_looser_policy(three_messages_then_a_looser_policy());
}

/// The same two on PostgreSQL, where the due windows live in the
/// conversations' rows and the policy's fingerprint in `due_policy`.
#[test]
fn on_postgresql_a_loosened_policy_reaches_existing_conversations_with_or_without_reindex() {
    let Some(url) =
        crate::support::postgres::database_url("followups::on_postgresql_a_loosened_policy")
    else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let on_database = || {
        let schema = runtime.block_on(crate::support::postgres::TestSchema::create(&url));
        let mut troupe = Troupe::new();
        troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
        (schema, three_messages_then_a_looser_policy_in(troupe))
    };
    let (schema, troupe) = on_database();
    assert_eq!(due(&troupe, "2026-11-03T12:00:00Z").len(), 1);
    assert_eq!(run_followups(&troupe, "2026-11-03T12:00:00Z").len(), 1);
    runtime.block_on(schema.drop_all());
    let (schema, troupe) = on_database();
    assert_reindex_applies_a_looser_policy(troupe);
    runtime.block_on(schema.drop_all());
}

/// `followups reindex` moves the one conversation the looser policy makes
/// due, which `followups due` then lists.
fn assert_reindex_applies_a_looser_policy(troupe: Troupe) {
    let run = troupe.run(&["--now", "2026-11-03T12:00:00Z", "followups", "reindex"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("1 conversation(s) have a new due window"),
        "{}",
        run.stdout
    );
    assert_eq!(due(&troupe, "2026-11-03T12:00:00Z").len(), 1);
}
