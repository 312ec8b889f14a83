//! The command line on a PostgreSQL store (`TROUPE_DATABASE_URL` pointing
//! at a test schema; skipped, saying so, without
//! `TROUPE_TEST_DATABASE_URL`): chatting, STOP, the crisis protocol,
//! history, topics, settings, usage, the safety report, export and erasure
//! print exactly what they print on the sled store of a data dir, and two
//! processes chat on one database at once, which a data dir's lock forbids.

use crate::support::postgres::{TestSchema, database_url};
use crate::support::{Run, Troupe};

/// When the commands run.
const NOW: &str = "2026-11-26T12:00:00Z";

/// Runs `args` at [`NOW`].
fn at_now(troupe: &Troupe, args: &[&str]) -> Run {
    let mut all = vec!["--now", NOW];
    all.extend_from_slice(args);
    troupe.run(&all)
}

/// A command's exit code, and its stdout when it succeeded, else its stderr.
fn outcome(run: Run) -> (i32, String) {
    let text = if run.code == 0 {
        run.stdout
    } else {
        run.stderr
    };
    (run.code, text)
}

/// What a user's day of commands prints, one (exit code, output) per
/// command: stdout when it succeeded, stderr when it did not. Conversation
/// ids are left out of the export (each store numbers its own), and
/// measured latencies out of usage.
fn a_users_day(troupe: &Troupe) -> Vec<(i32, String)> {
    let mut printed = Vec::new();
    let mut record = |run: Run| printed.push(outcome(run));
    for text in [
        "What can I cook with leeks and potatoes?",
        "And a dessert with apples?",
    ] {
        record(at_now(
            troupe,
            &["chat", "chef", "--user", "Ana", "--message", text],
        ));
    }
    record(at_now(
        troupe,
        &["chat", "chef", "--user", "ana", "--message", "STOP"],
    ));
    record(at_now(
        troupe,
        &[
            "chat",
            "decor",
            "--user",
            "ana",
            "--message",
            "I have decided to end my life tonight, I have the pills ready",
        ],
    ));
    record(at_now(
        troupe,
        &["chat", "chef", "--user", "bob", "--message", ""],
    ));
    record(at_now(
        troupe,
        &["history", "--persona", "chef", "--user", "ANA", "--json"],
    ));
    record(at_now(
        troupe,
        &["history", "--persona", "decor", "--user", "ana"],
    ));
    record(at_now(
        troupe,
        &["topics", "--persona", "chef", "--user", "ana"],
    ));
    record(at_now(
        troupe,
        &["user", "set", "ana", "--timezone", "Europe/Paris"],
    ));
    record(at_now(troupe, &["user", "show", "ana", "--json"]));
    // Latencies are measured, so they differ from run to run.
    let usage = at_now(troupe, &["usage", "--json"]);
    let mut lines = usage.json();
    for line in lines.as_array_mut().into_iter().flatten() {
        line["avg_latency_ms"] = serde_json::Value::Null;
    }
    record(Run {
        stdout: lines.to_string(),
        ..usage
    });
    record(at_now(troupe, &["safety", "report", "--json"]));
    record(at_now(
        troupe,
        &["followups", "explain", "--user", "ana", "--persona", "chef"],
    ));
    let export = at_now(troupe, &["export", "--user", "ana"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let mut document = export.json();
    for conversation in document["conversations"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        conversation["conversation"]["id"] = serde_json::Value::Null;
    }
    for call in document["usage"].as_array_mut().into_iter().flatten() {
        call["latency_ms"] = serde_json::Value::Null;
    }
    document["exported_at"] = serde_json::Value::Null;
    record(Run {
        stdout: document.to_string(),
        ..export
    });
    record(at_now(troupe, &["erase", "--user", "ana", "--yes"]));
    record(at_now(
        troupe,
        &["history", "--persona", "chef", "--user", "ana", "--json"],
    ));
    // Where the user was looked for differs: keep what comes before.
    let gone = at_now(troupe, &["user", "show", "ana"]);
    let said = gone
        .stderr
        .split(" in ")
        .next()
        .unwrap_or_default()
        .to_string();
    record(Run {
        stderr: said,
        ..gone
    });
    printed
}

#[test]
fn every_user_command_prints_the_same_on_postgresql_as_on_sled() {
    let on_sled = Troupe::new();
    let sled = a_users_day(&on_sled);
    // The day itself, as the sled store answers it.
    assert!(
        sled[0].1.contains("leek") || sled[0].0 == 0,
        "{:?}",
        sled[0]
    );
    assert_eq!(sled[2].0, 0, "STOP: {}", sled[2].1);
    assert!(
        sled[3].1.contains("3114"),
        "the crisis reply: {}",
        sled[3].1
    );
    assert_ne!(sled[4].0, 0, "an empty message is refused");
    let history: serde_json::Value = serde_json::from_str(&sled[5].1).expect("history JSON");
    let messages = history["messages"].as_array().map(Vec::len);
    assert_eq!(messages, Some(4), "{history}");
    let user: serde_json::Value = serde_json::from_str(&sled[9].1).expect("user JSON");
    assert_eq!(user["timezone"], "Europe/Paris", "{user}");
    assert!(
        sled[12].1.contains("FAIL"),
        "STOP and the hold: {}",
        sled[12].1
    );
    assert!(sled[13].1.contains("leeks"), "the export: {}", sled[13].1);
    let after: serde_json::Value = serde_json::from_str(&sled[15].1).expect("history JSON");
    assert_eq!(
        after["messages"],
        serde_json::json!([]),
        "nothing left after the erasure"
    );
    assert_ne!(sled[16].0, 0, "no such user any more: {}", sled[16].1);

    let Some(url) = database_url("commands_on_postgres::every_user_command") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let schema = runtime.block_on(TestSchema::create(&url));
    let mut on_postgres = Troupe::new();
    on_postgres.env("TROUPE_DATABASE_URL", &schema.process_url());
    let postgres = a_users_day(&on_postgres);
    let left = runtime.block_on(schema.number("SELECT count(*) FROM messages"));
    runtime.block_on(schema.drop_all());
    assert_eq!(left, 0, "the erasure removed every message");
    assert!(
        !on_postgres.data_dir().join("store").exists(),
        "nothing was written to the data dir's sled store"
    );
    for (i, (sled, postgres)) in sled.iter().zip(&postgres).enumerate() {
        assert_eq!(postgres, sled, "command {i} printed differently");
    }
    assert_eq!(postgres.len(), sled.len());
}

#[test]
fn two_processes_chat_on_one_database_at_once() {
    let Some(url) = database_url("commands_on_postgres::two_processes") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let schema = runtime.block_on(TestSchema::create(&url));
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
    // Each user's console-less chat runs in its own process; none waits
    // on a lock, and every turn is kept in order.
    let turns: Vec<_> = (0..6)
        .map(|i| {
            let mut command = troupe.command(&[
                "chat",
                "chef",
                "--user",
                if i % 2 == 0 { "ana" } else { "bob" },
                "--message",
                &format!("question number {i} about soup"),
            ]);
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("troupe starts")
        })
        .collect();
    for child in turns {
        let output = child.wait_with_output().expect("troupe ends");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stored = runtime.block_on(schema.number(
        "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.persona = 'chef'",
    ));
    let numbered = runtime.block_on(schema.strings(
        "SELECT c.user_id || ':' || string_agg(m.seq::text, ',' ORDER BY m.seq)
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         GROUP BY c.user_id ORDER BY c.user_id",
    ));
    runtime.block_on(schema.drop_all());
    assert_eq!(stored, 12, "six messages and six replies");
    assert_eq!(numbered, ["ana:0,1,2,3,4,5", "bob:0,1,2,3,4,5"]);
}
