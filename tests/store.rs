//! The sled store seen from the binary: durability, the lock, corruption.

use crate::support::Troupe;
use troupe::store::postgres::PG_SCHEMA_VERSION;

#[test]
fn conversations_survive_between_runs_in_order() {
    let troupe = Troupe::new();
    for (i, now) in [
        "2026-11-01T10:00:00Z",
        "2026-11-02T10:00:00Z",
        "2026-11-03T10:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let run = troupe.run(&[
            "--now",
            now,
            "chat",
            "chef",
            "--message",
            &format!("message {i}"),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let history = troupe.history("chef");
    let user_texts: Vec<_> = history
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(user_texts, ["message 0", "message 1", "message 2"]);
    assert_eq!(history[4]["at"], "2026-11-03T10:00:00Z");
    let text = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert!(
        text.stdout.starts_with("[2026-11-01 10:00] you: message 0"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_data_dir_held_past_the_wait_gets_one_line_naming_the_dir() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hello"]).code, 0);
    // Commands hold the data dir only for moments; something that holds it
    // for good (here, this test) is reported once the wait runs out.
    let holder = troupe::store::Store::open(&troupe.data_dir()).expect("hold the store");
    let second = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(second.code, 1);
    assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains(&troupe.data_dir().display().to_string())
    );
    assert!(
        second.stderr.contains("in use by another troupe process"),
        "{}",
        second.stderr
    );
    // Waiting is the advice: another data dir would show another store.
    assert!(
        second.stderr.contains("wait for it to finish"),
        "{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("pass a different --data-dir"),
        "{}",
        second.stderr
    );
    drop(holder);
    let third = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
}

#[test]
fn a_corrupt_store_gets_a_clear_message_not_a_panic() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hello"]).code, 0);
    let store = troupe.data_dir().join("store");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for entry in std::fs::read_dir(&store).expect("store dir").flatten() {
        if entry.path().is_file() {
            std::fs::write(entry.path(), &garbage).expect("overwrite store file");
        }
    }
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&troupe.data_dir().display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("is corrupt"), "{}", run.stderr);
}

#[test]
fn a_store_whose_log_was_damaged_is_reported_instead_of_silently_emptied() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hello"]).code, 0);
    let log = troupe.data_dir().join("store").join("db");
    let mut bytes = std::fs::read(&log).expect("read the log");
    for byte in bytes.iter_mut().step_by(7) {
        *byte ^= 0x5a;
    }
    std::fs::write(&log, bytes).expect("damage the log");
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("is corrupt"), "{}", run.stderr);
}

#[test]
fn store_migrate_without_a_database_says_how_to_configure_one() {
    let troupe = Troupe::new();
    let run = troupe.run(&["store", "migrate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no PostgreSQL database is configured: set [store] url in troupe.toml or TROUPE_DATABASE_URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_database_password_in_troupe_toml_is_refused_without_repeating_it() {
    let troupe = Troupe::new();
    troupe.write_config("[store]\nurl = \"postgres://troupe:hunter2-secret@127.0.0.1/troupe\"\n");
    let run = troupe.run(&["store", "migrate"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("holds a password; put it in PGPASSWORD"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[test]
fn store_migrate_applies_the_schema_once_then_finds_nothing_to_do() {
    let Some(url) = crate::support::postgres::database_url(
        "store_migrate_applies_the_schema_once_then_finds_nothing_to_do",
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let schema = runtime.block_on(crate::support::postgres::TestSchema::create(&url));
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
    let first = troupe.run(&["store", "migrate"]);
    let second = troupe.run(&["store", "migrate", "--json"]);
    runtime.block_on(schema.drop_all());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stdout
            .contains(&format!("from schema version 0 to {PG_SCHEMA_VERSION} ({PG_SCHEMA_VERSION} migration(s) applied)")),
        "{}",
        first.stdout
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    let report = second.json();
    assert_eq!(
        (report["from"].as_i64(), report["applied"].as_i64()),
        (Some(PG_SCHEMA_VERSION), Some(0))
    );
    assert!(
        !troupe.data_dir().join("store").exists(),
        "no sled store was created"
    );
}

#[test]
fn serve_on_an_unreachable_database_fails_naming_it_without_its_password() {
    let mut troupe = Troupe::new();
    troupe.env(
        "TROUPE_DATABASE_URL",
        "postgres://troupe:hunter2-secret@127.0.0.1:1/troupe",
    );
    let run = troupe.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(
            "could not connect to the PostgreSQL database postgres://troupe@127.0.0.1:1/troupe"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert!(
        !troupe.data_dir().join("store").exists(),
        "no sled store was created in its place"
    );
}

#[test]
fn ten_store_migrate_processes_started_at_once_apply_the_schema_once() {
    let Some(url) = crate::support::postgres::database_url(
        "ten_store_migrate_processes_started_at_once_apply_the_schema_once",
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let schema = runtime.block_on(crate::support::postgres::TestSchema::create(&url));
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
    let children: Vec<_> = (0..10)
        .map(|_| {
            troupe
                .command(&["store", "migrate", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the binary starts")
        })
        .collect();
    let runs: Vec<_> = children
        .into_iter()
        .map(|child| crate::support::finish(child.wait_with_output().expect("the binary ends")))
        .collect();
    let recorded = runtime.block_on(schema.number("SELECT COUNT(*) FROM troupe_schema"));
    runtime.block_on(schema.drop_all());
    let mut applied = 0;
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.stderr);
        applied += run.json()["applied"].as_i64().expect("a count");
    }
    assert_eq!(
        applied, PG_SCHEMA_VERSION,
        "one process applied each migration"
    );
    assert_eq!(recorded, PG_SCHEMA_VERSION);
}
