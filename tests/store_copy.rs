//! `troupe store copy` (the real binary): a data dir copied into
//! PostgreSQL and back answers `history` and `export` byte for byte like
//! the original; a copy interrupted (stopped by its test hook, or killed
//! with SIGKILL) and run again ends with the source's counts and
//! checksums; a bad URL, a destination another process holds, and a
//! destination with other data are refused with a message and a non-zero
//! exit code. The sled-to-sled halves run always; the PostgreSQL ones when
//! `TROUPE_TEST_DATABASE_URL` is set (each in a schema of its own).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use troupe::safety::SafetyEvent;
use troupe::store::postgres::PgStore;
use troupe::store::{
    AppendEffects, CallOutcome, Conversation, DueWindow, Message, MessageKind, Store, StoreBackend,
    Topic, UsageRecord,
};

use crate::support::Troupe;
use crate::support::postgres::{TestSchema, database_url};

/// The personas the conversations are with (built in, so `history` knows them).
const PERSONAS: [&str; 2] = ["chef", "decor"];

/// An instant `seconds` after a fixed start, with a quarter second more
/// (milliseconds, which both stores keep exactly).
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
        .single()
        .expect("a valid date")
        + Duration::milliseconds(seconds * 1000 + 250)
}

/// Fills the sled store of `dir` with every kind of record a copy moves:
/// `users` users with settings, each talking to both personas (questions,
/// replies with disclaimers, a follow-up in every other conversation),
/// topics, due windows, one follow-up intent held by a worker, usage
/// records (two in one millisecond) and safety counts.
fn populate(dir: &Path, users: usize) {
    let store = Store::open(dir).expect("the store opens");
    let schedule = |c: &Conversation| {
        c.last_user_at.map(|last| DueWindow {
            from: last + Duration::days(2),
            until: last + Duration::days(5),
        })
    };
    let topics = |list: &mut Vec<Topic>| {
        if list.is_empty() {
            list.push(Topic {
                phrase: "saffron risotto".into(),
                score: 1.25,
                mentions: 1,
                updated_at: at(1),
                sensitive: false,
            });
        } else {
            list[0].mentions += 1;
        }
    };
    let effects = AppendEffects {
        schedule: &schedule,
        topics: Some(&topics),
        session: None,
    };
    for u in 0..users {
        let user = format!("user{u:02}");
        let offset = u as i64 * 100;
        for (p, persona) in PERSONAS.iter().enumerate() {
            let base = offset + p as i64 * 10;
            let question =
                Message::from_user(format!("{user} asks {persona} — ünïcode ✓"), at(base));
            let mut answer = Message::reply("Stir slowly.", at(base + 1), "test-model");
            answer.disclaimers = vec!["I am an AI.".into(), "Not advice.".into()];
            store.append(&user, persona, &question, &effects).unwrap();
            store.append(&user, persona, &answer, &effects).unwrap();
            if (u + p) % 2 == 0 {
                let followup = Message {
                    kind: MessageKind::FollowUp,
                    ..Message::reply("How did it go?", at(base + 2), "test-model")
                };
                store.append(&user, persona, &followup, &effects).unwrap();
            }
        }
        store
            .update_user(&user, at(offset), &|record| {
                record.timezone = Some("Europe/Paris".into());
                record.display_name = Some(format!("Name {u}"));
            })
            .unwrap();
        store.record_usage(&usage(Some(&user), at(offset))).unwrap();
    }
    // Two calls in the same millisecond, one without a user.
    store.record_usage(&usage(None, at(7))).unwrap();
    store.record_usage(&usage(Some("user00"), at(7))).unwrap();
    for (seconds, kind) in [
        (0, "crisis_referral"),
        (5, "crisis_referral"),
        (90_000, "danger_referral"),
    ] {
        let event = SafetyEvent {
            at: at(seconds),
            kind: kind.into(),
            language: "fr".into(),
        };
        store.record_safety_event(&event).unwrap();
    }
    // One intent, held by a worker whose lease runs on.
    let claims = store
        .claim_due(at(400_000), 1, "worker-a", Duration::minutes(2), &|_| true)
        .unwrap();
    assert_eq!(claims.len(), 1, "one conversation was due and claimed");
}

/// One model call's usage record.
fn usage(user: Option<&str>, at: DateTime<Utc>) -> UsageRecord {
    UsageRecord {
        at,
        user: user.map(str::to_string),
        persona: "chef".into(),
        model: "test-model".into(),
        kind: MessageKind::Chat,
        prompt_tokens: 120,
        completion_tokens: 40,
        latency_ms: 900,
        outcome: CallOutcome::Completed,
    }
}

/// Runs `troupe store copy --from FROM --to TO --json` plus `extra`.
fn copy(troupe: &Troupe, from: &str, to: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["store", "copy", "--from", from, "--to", to, "--json"];
    args.extend_from_slice(extra);
    troupe.run(&args)
}

/// The tables of a successful copy's report, each checked to match.
fn verified_tables(run: &crate::support::Run) -> Vec<Value> {
    assert_eq!(run.code, 0, "the copy failed: {}", run.stderr);
    let report = run.json();
    let tables = report["tables"].as_array().cloned().expect("tables");
    for table in &tables {
        assert_eq!(table["source_count"], table["destination_count"], "{table}");
        assert_eq!(
            table["source_checksum"], table["destination_checksum"],
            "{table}"
        );
    }
    tables
}

/// The count of `table` in a report's tables.
fn count(tables: &[Value], table: &str) -> u64 {
    tables
        .iter()
        .find(|t| t["table"] == table)
        .and_then(|t| t["destination_count"].as_u64())
        .unwrap_or_else(|| panic!("no table {table}"))
}

/// The destination's side of each table: (table, count, checksum).
fn sums(tables: &[Value]) -> Vec<(String, u64, String)> {
    tables
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap_or_default().to_string(),
                t["destination_count"].as_u64().unwrap_or_default(),
                t["destination_checksum"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// When `history` and `export` run (an export says when it was made).
const NOW: &str = "2026-11-30T12:00:00Z";

/// Asserts that the data dir of `copied` answers `history --json` and
/// `export` for every user and persona exactly as `original`'s does,
/// naming the first line that differs.
fn assert_same_answers(copied: &Troupe, original: &Troupe, users: usize) {
    let (copied, original) = (answers(copied, users), answers(original, users));
    assert_eq!(copied.len(), original.len());
    for (copied, original) in copied.iter().zip(&original) {
        if let Some((n, (c, o))) = copied
            .lines()
            .zip(original.lines())
            .enumerate()
            .find(|(_, (c, o))| c != o)
        {
            panic!("line {n} differs: the copy prints {c:?}, the original {o:?}\n{original}");
        }
        assert_eq!(copied, original);
    }
}

/// What `history --json` and `export` print for every user and persona of
/// the data dir `troupe` runs on.
fn answers(troupe: &Troupe, users: usize) -> Vec<String> {
    let mut printed = Vec::new();
    for u in 0..users {
        let user = format!("user{u:02}");
        for persona in PERSONAS {
            let run = troupe.run(&[
                "--now",
                NOW,
                "history",
                "--user",
                &user,
                "--persona",
                persona,
                "--json",
            ]);
            assert_eq!(run.code, 0, "history failed: {}", run.stderr);
            printed.push(run.stdout);
        }
        let run = troupe.run(&["--now", NOW, "export", "--user", &user]);
        assert_eq!(run.code, 0, "export failed: {}", run.stderr);
        printed.push(run.stdout);
    }
    printed
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

#[test]
fn a_data_dir_copied_into_postgresql_and_back_answers_history_and_export_exactly_like_the_original()
{
    let Some(url) = database_url("store_copy::round_trip") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&url));
    let mut original = Troupe::new();
    populate(&original.data_dir(), 5);
    // Trust authentication ignores it; it must never be printed.
    original.env("PGPASSWORD", "pw-never-shown-1");
    let database = schema.process_url();
    let there = verified_tables(&copy(
        &original,
        text(&original.data_dir()),
        &database,
        &["--batch", "2"],
    ));
    assert_eq!(count(&there, "users"), 5);
    assert_eq!(count(&there, "conversations"), 10);
    assert_eq!(count(&there, "messages"), 25);
    assert_eq!(count(&there, "follow-ups"), 5);
    assert_eq!(count(&there, "follow-up intents"), 1);
    assert_eq!(count(&there, "usage records"), 7);
    assert_eq!(count(&there, "safety events"), 2);
    let mut back = Troupe::new();
    back.env("PGPASSWORD", "pw-never-shown-1");
    let returned = copy(&back, &database, text(&back.data_dir()), &[]);
    assert!(
        !returned.stdout.contains("pw-never-shown") && !returned.stderr.contains("pw-never-shown")
    );
    let returned = verified_tables(&returned);
    assert_eq!(sums(&there), sums(&returned), "the same records came back");
    assert_same_answers(&back, &original, 5);
    let followups = runtime.block_on(schema.number("SELECT COUNT(*) FROM followups"));
    assert_eq!(followups, 5, "each follow-up message has its followups row");
    // PostgreSQL into PostgreSQL, the same records again.
    let other = runtime.block_on(TestSchema::create(&url));
    let again = verified_tables(&copy(&back, &database, &other.process_url(), &[]));
    assert_eq!(sums(&again), sums(&there));
    // New conversations take ids above the copied ones, in both stores.
    let store = runtime.block_on(PgStore::open(schema.database())).unwrap();
    let backend = StoreBackend::Postgres(store.clone());
    runtime.block_on(async {
        assert_new_conversations_take_new_ids(&backend).await;
        store.close().await;
    });
    let sled = StoreBackend::Sled(Store::open(&back.data_dir()).unwrap());
    runtime.block_on(assert_new_conversations_take_new_ids(&sled));
    runtime.block_on(other.drop_all());
    runtime.block_on(schema.drop_all());
}

/// Starts a conversation in a store a copy wrote, and checks that its id
/// is none of the copied conversations'.
async fn assert_new_conversations_take_new_ids(store: &StoreBackend) {
    let mut copied = Vec::new();
    for u in 0..5 {
        for c in store
            .user_conversations(&format!("user{u:02}"))
            .await
            .unwrap()
        {
            copied.push(c.id);
        }
    }
    let message = Message::from_user("a new user writes", at(500_000));
    let new = store
        .append("newcomer", "chef", &message, &AppendEffects::NONE)
        .await
        .unwrap();
    assert!(
        copied.iter().all(|id| *id < new.id),
        "{} store: new id {} among copied {copied:?}",
        store.kind(),
        new.id
    );
}

#[test]
fn a_data_dir_copied_into_a_new_data_dir_answers_history_and_export_exactly_like_the_original() {
    let original = Troupe::new();
    populate(&original.data_dir(), 3);
    let copied = Troupe::new();
    let tables = verified_tables(&copy(
        &original,
        text(&original.data_dir()),
        text(&copied.data_dir()),
        &["--batch", "1"],
    ));
    assert_eq!(count(&tables, "conversations"), 6);
    assert_same_answers(&copied, &original, 3);
}

/// The tables a copy of `original`'s data dir into a new data dir, run
/// once to its end, verifies: what an interrupted copy must end with.
fn copied_whole(original: &Troupe) -> Vec<Value> {
    let whole = Troupe::new();
    verified_tables(&copy(
        original,
        text(&original.data_dir()),
        text(&whole.data_dir()),
        &[],
    ))
}

/// Copies `from` into `to` stopped after 3 batches by the test hook, then
/// again: the second run resumes and ends with `expected`'s sums.
fn interrupted_then_finished(troupe: &Troupe, from: &str, to: &str) -> Vec<Value> {
    let stopped = copy(
        troupe,
        from,
        to,
        &["--batch", "1", "--stop-after-batches", "3"],
    );
    assert_ne!(stopped.code, 0, "the hook stops the copy");
    assert!(
        stopped.stderr.contains("stopped after 3 batch(es)")
            && stopped.stderr.contains("run the same command again"),
        "{}",
        stopped.stderr
    );
    let finished = copy(troupe, from, to, &["--batch", "1"]);
    let tables = verified_tables(&finished);
    assert_eq!(finished.json()["resumed"], true);
    tables
}

#[test]
fn a_copy_stopped_midway_and_run_again_ends_with_the_sources_counts_and_checksums() {
    let original = Troupe::new();
    populate(&original.data_dir(), 4);
    let expected = copied_whole(&original);
    let resumed = Troupe::new();
    let tables = interrupted_then_finished(
        &original,
        text(&original.data_dir()),
        text(&resumed.data_dir()),
    );
    assert_eq!(sums(&tables), sums(&expected));
    // Once more, over a finished copy: the same records, nothing doubled.
    let again = verified_tables(&copy(
        &original,
        text(&original.data_dir()),
        text(&resumed.data_dir()),
        &[],
    ));
    assert_eq!(sums(&again), sums(&expected));
    assert_same_answers(&resumed, &original, 4);
    let Some(url) = database_url("store_copy::interrupted_into_postgresql") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&url));
    let tables =
        interrupted_then_finished(&original, text(&original.data_dir()), &schema.process_url());
    assert_eq!(sums(&tables), sums(&expected));
    runtime.block_on(schema.drop_all());
}

#[test]
fn a_copy_killed_midway_and_run_again_ends_with_the_sources_counts_and_checksums() {
    let original = Troupe::new();
    populate(&original.data_dir(), 6);
    let expected = copied_whole(&original);
    let target = Troupe::new();
    let (from, to) = (original.data_dir(), target.data_dir());
    kill_copy_after(&original, text(&from), text(&to), 4);
    let tables = verified_tables(&copy(&original, text(&from), text(&to), &["--batch", "1"]));
    assert_eq!(sums(&tables), sums(&expected));
}

/// Starts a verbose copy in batches of one and kills it (SIGKILL) as soon
/// as its log says `after` batches were written.
fn kill_copy_after(troupe: &Troupe, from: &str, to: &str, after: usize) {
    use std::io::BufRead;
    let args = [
        "-v", "store", "copy", "--from", from, "--to", to, "--batch", "1",
    ];
    let mut child = troupe
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a copy");
    let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut written = 0;
    for line in stderr.lines().map_while(Result::ok) {
        written += usize::from(line.contains("copy: batch written"));
        if written == after {
            break;
        }
    }
    assert_eq!(written, after, "the copy logged its batches");
    child.kill().expect("kill -9");
    child.wait().expect("reap");
}

#[test]
fn a_url_that_is_not_postgresql_or_holds_a_password_is_refused_without_repeating_it() {
    let troupe = Troupe::new();
    let from = text(&troupe.data_dir()).to_string();
    let run = copy(&troupe, &from, "mysql://troupe:pw-secret-1@db/prod", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("must be a PostgreSQL URL"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("pw-secret-1"), "{}", run.stderr);
    let run = copy(&troupe, &from, "postgres://troupe:pw-secret-2@db/prod", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("PGPASSWORD"), "{}", run.stderr);
    assert!(!run.stderr.contains("pw-secret-2"), "{}", run.stderr);
}

#[test]
fn a_destination_another_process_holds_is_refused_and_left_unwritten() {
    let original = Troupe::new();
    populate(&original.data_dir(), 1);
    let held = tempfile::tempdir().unwrap();
    let holder = Store::open(held.path()).unwrap();
    let run = copy(
        &original,
        text(&original.data_dir()),
        text(held.path()),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("is in use by another troupe process"),
        "{}",
        run.stderr
    );
    assert!(
        holder.user("user00").unwrap().is_none(),
        "nothing was written"
    );
}

#[test]
fn a_destination_with_other_data_or_a_copy_of_another_store_is_refused() {
    let original = Troupe::new();
    populate(&original.data_dir(), 1);
    let other = Troupe::new();
    populate(&other.data_dir(), 2);
    let run = copy(
        &original,
        text(&original.data_dir()),
        text(&other.data_dir()),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("already holds users, conversations")
            && run.stderr.contains("not a copy of sled data dir"),
        "{}",
        run.stderr
    );
    let copied = Troupe::new();
    verified_tables(&copy(
        &original,
        text(&original.data_dir()),
        text(&copied.data_dir()),
        &[],
    ));
    let run = copy(
        &other,
        text(&other.data_dir()),
        text(&copied.data_dir()),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("holds a copy of sled data dir"),
        "{}",
        run.stderr
    );
    let same = copy(
        &original,
        text(&original.data_dir()),
        text(&original.data_dir()),
        &[],
    );
    assert_eq!(same.code, 2, "{}", same.stderr);
    assert!(
        same.stderr.contains("both the source and the destination"),
        "{}",
        same.stderr
    );
    let missing: PathBuf = original.root.path().join("no-such-dir");
    let run = copy(&original, text(&missing), text(&copied.data_dir()), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("there is no store in"),
        "{}",
        run.stderr
    );
}
