//! PostgreSQL only: `troupe followups run` processes on one database (the
//! real binary, `TROUPE_DATABASE_URL` pointing at a test schema) deliver
//! each due follow-up exactly once, two at once or one killed mid-batch.
//! Skipped, saying so, without `TROUPE_TEST_DATABASE_URL`.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use troupe::followup::FollowUpPolicy;
use troupe::persona::Personas;
use troupe::store::postgres::PgStore;
use troupe::store::{AppendEffects, Conversation, Message, StoreBackend};

use crate::support::Troupe;
use crate::support::postgres::{TestSchema, database_url};
use crate::support::server::{Reply, TestServer};

/// When the runs happen: two days after the conversations went quiet, at
/// noon UTC (outside quiet hours).
const NOW: &str = "2026-11-26T12:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid instant")
}

/// Makes `count` conversations with `chef` due at [`NOW`], through the
/// store interface as the chat path writes them: each user starts the
/// conversation and sends five messages (each answered) on 23 November,
/// and the due window is the one the default policy gives.
async fn populate(store: &StoreBackend, count: usize) {
    let chef = Personas::builtin().get("chef").expect("the built-in chef");
    let policy = FollowUpPolicy::default().for_persona(&chef);
    let schedule = |c: &Conversation| policy.due_window(c);
    let effects = AppendEffects {
        schedule: &schedule,
        topics: None,
        session: None,
    };
    for i in 0..count {
        let user = format!("user{i:03}");
        for m in 0..5 {
            let asked = at(&format!("2026-11-23T10:{m}0:00Z"));
            let answered = asked + chrono::Duration::seconds(20);
            let question = Message::from_user(format!("how do I make risotto, part {m}?"), asked);
            let answer = Message::reply("Stir it slowly.", answered, "test-model");
            for message in [question, answer] {
                store
                    .append(&user, "chef", &message, &effects)
                    .await
                    .expect("the message is stored");
            }
        }
    }
    let due = store.due(at(NOW), usize::MAX).await.expect("the due query");
    assert_eq!(due.len(), count, "every conversation is due at {NOW}");
}

/// A test schema with `count` due conversations, and the troupe runner
/// pointed at it and at `server`; `None` when PostgreSQL tests are skipped.
async fn setup(test: &str, count: usize, server: &TestServer) -> Option<(TestSchema, Troupe)> {
    let url = database_url(test)?;
    let schema = TestSchema::create(&url).await;
    let store = PgStore::open(schema.database()).await.expect("migrated");
    populate(&StoreBackend::Postgres(store.clone()), count).await;
    store.close().await;
    let mut troupe = Troupe::with_server(&server.base_url);
    troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
    Some((schema, troupe))
}

/// What the database holds once the runs are done: follow-up messages,
/// conversations with exactly one follow-up and no intent left, intents
/// still held.
async fn outcome(schema: &TestSchema) -> (i64, i64, i64) {
    let messages = schema
        .number("SELECT COUNT(*) FROM messages WHERE kind = 'follow-up'")
        .await;
    let once = schema
        .number(
            "SELECT COUNT(*) FROM conversations WHERE followups_sent = 1 AND pending_followup IS NULL",
        )
        .await;
    let pending = schema
        .number("SELECT COUNT(*) FROM conversations WHERE pending_followup IS NOT NULL")
        .await;
    (messages, once, pending)
}

/// The users a `followups run --json` reports follow-ups sent to.
fn users_sent(stdout: &[u8]) -> Vec<String> {
    let sent: Value = serde_json::from_slice(stdout).expect("the run prints JSON");
    sent.as_array()
        .expect("a list of follow-ups")
        .iter()
        .map(|s| {
            assert_eq!(s["persona"], "chef");
            assert_eq!(s["model"], "test-model");
            assert_eq!(s["text"], "Checking in!");
            assert!(s["disclaimers"].is_array(), "{s}");
            s["user"].as_str().expect("a user").to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_on_one_database_deliver_each_of_120_follow_ups_exactly_once() {
    const DUE: usize = 120;
    let server =
        TestServer::start_slow(vec![Reply::Text("Checking in!")], Duration::from_millis(40));
    let Some((schema, troupe)) = setup(
        "two_runs_at_once_on_one_database_deliver_each_of_120_follow_ups_exactly_once",
        DUE,
        &server,
    )
    .await
    else {
        return;
    };
    let preview = troupe.run(&[
        "--now",
        NOW,
        "followups",
        "run",
        "--dry-run",
        "--limit",
        "5",
        "--json",
    ]);
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    assert_eq!(
        users_sent(preview.stdout.as_bytes()).len(),
        5,
        "a dry run writes five"
    );
    assert_eq!(
        outcome(&schema).await,
        (0, 0, 0),
        "and stores and claims nothing"
    );
    let args = ["--now", NOW, "followups", "run", "--json", "--quiet"];
    let runs: Vec<_> = (0..2)
        .map(|_| {
            troupe
                .command(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a run")
        })
        .collect();
    let mut everyone = Vec::new();
    for run in runs {
        let output = run.wait_with_output().expect("the run finishes");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        everyone.extend(users_sent(&output.stdout));
    }
    let distinct: HashSet<&String> = everyone.iter().collect();
    assert_eq!(distinct.len(), everyone.len(), "a follow-up reported twice");
    assert_eq!(everyone.len(), DUE, "the two runs together sent every one");
    assert_eq!(server.received().len(), 5 + DUE, "one model call each");
    let (messages, once, pending) = outcome(&schema).await;
    let followups_table = schema.number("SELECT COUNT(*) FROM followups").await;
    schema.drop_all().await;
    assert_eq!(messages, DUE as i64, "one follow-up message each");
    assert_eq!(once, DUE as i64, "every conversation has exactly one");
    assert_eq!(followups_table, DUE as i64, "one row each, keyed by intent");
    assert_eq!(pending, 0, "no intent left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_batch_loses_nothing_once_its_lease_expires() {
    const DUE: usize = 40;
    let server = TestServer::start_slow(
        vec![Reply::Text("Checking in!")],
        Duration::from_millis(400),
    );
    let Some((schema, troupe)) = setup(
        "a_run_killed_mid_batch_loses_nothing_once_its_lease_expires",
        DUE,
        &server,
    )
    .await
    else {
        return;
    };
    // Killed (SIGKILL) once it has delivered a few, with calls in flight.
    let delivered = troupe.kill_followup_run_after(
        &[
            "-v",
            "--now",
            NOW,
            "followups",
            "run",
            "--lease",
            "1m",
            "--quiet",
        ],
        3,
    );
    assert_eq!(delivered, 3, "the run was cut mid-batch");
    let (killed_delivered, _, left_claimed) = outcome(&schema).await;
    assert!(killed_delivered >= 3 && (killed_delivered as usize) < DUE);
    assert!(left_claimed > 0, "the killed run left claims behind");

    // While the lease holds, another run leaves the killed run's claims be.
    let run = troupe.run(&["--now", NOW, "followups", "run", "--json", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let second = users_sent(run.stdout.as_bytes());
    let (_, _, still_claimed) = outcome(&schema).await;
    assert_eq!(still_claimed, left_claimed, "leased claims are not taken");

    // Once it has expired, the next run takes them over.
    let later = "2026-11-26T12:01:30Z";
    let run = troupe.run(&["--now", later, "followups", "run", "--json", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let third = users_sent(run.stdout.as_bytes());
    let (messages, once, pending) = outcome(&schema).await;
    let per_conversation = schema
        .number(
            "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM messages
             WHERE kind = 'follow-up' GROUP BY conversation_id) AS counts",
        )
        .await;
    schema.drop_all().await;
    assert_eq!(third.len() as i64, left_claimed, "every claim taken over");
    assert_eq!(
        killed_delivered as usize + second.len() + third.len(),
        DUE,
        "nothing lost, nothing twice"
    );
    assert_eq!(messages, DUE as i64, "one follow-up message each");
    assert_eq!(once, DUE as i64, "every conversation has exactly one");
    assert_eq!(per_conversation, 1, "none has two");
    assert_eq!(pending, 0, "no intent left");
}
