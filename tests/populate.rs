//! `troupe dev populate` (the real binary) on either store: the same seed
//! builds the same conversations in sled and in PostgreSQL, and
//! `followups due` on each then finds exactly the conversations built to
//! be due. The PostgreSQL half runs when `TROUPE_TEST_DATABASE_URL` is set
//! (in a schema of its own). A change of a user's settings after that
//! reaches what the due query reads on both stores.

use chrono::{DateTime, Utc};
use serde_json::Value;
use troupe::followup::FollowUpPolicy;
use troupe::persona::Personas;
use troupe::populate::{PopulateOptions, populate, populate_postgres};
use troupe::progress::Silent;
use troupe::store::postgres::PgStore;
use troupe::store::{Store, StoreBackend};

use crate::support::Troupe;
use crate::support::postgres::{TestSchema, database_url};

/// The instant the conversations are built around and the query runs at.
const NOW: &str = "2026-11-26T12:00:00Z";

/// Conversations built: a few hundred users with every built-in persona.
const CONVERSATIONS: &str = "900";

/// Populates `troupe`'s store (PostgreSQL when `TROUPE_DATABASE_URL` is
/// set for it) and returns the report and what `followups due` answers.
fn populate_then_due(troupe: &Troupe) -> (Value, Vec<Value>) {
    let built = troupe.run(&[
        "--now",
        NOW,
        "dev",
        "populate",
        "--conversations",
        CONVERSATIONS,
        "--due-percent",
        "5",
        "--json",
        "--quiet",
    ]);
    assert_eq!(built.code, 0, "populate failed: {}", built.stderr);
    let due = troupe.run(&["--now", NOW, "followups", "due", "--json"]);
    assert_eq!(due.code, 0, "followups due failed: {}", due.stderr);
    let Value::Array(due) = due.json() else {
        panic!("followups due --json prints a list: {}", due.stdout);
    };
    (built.json(), due)
}

#[test]
fn populate_builds_the_same_due_conversations_in_sled_and_postgresql() {
    let sled = Troupe::new();
    let (report, due_on_sled) = populate_then_due(&sled);
    assert_eq!(report["conversations"], 900);
    let expected = report["due"].as_u64().unwrap();
    assert!(expected > 10, "some conversations are built due: {report}");
    assert_eq!(due_on_sled.len() as u64, expected);
    let Some(url) = database_url("populate::postgresql") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&url));
    let mut postgres = Troupe::new();
    postgres.env("TROUPE_DATABASE_URL", &schema.process_url());
    let (report_there, due_on_postgres) = populate_then_due(&postgres);
    assert_eq!(report_there, report, "the same seed builds the same store");
    assert_eq!(due_on_postgres, due_on_sled);
    let conversations = runtime.block_on(schema.number("SELECT COUNT(*) FROM conversations"));
    let messages = runtime.block_on(schema.number("SELECT COUNT(*) FROM messages"));
    let users = runtime.block_on(schema.number("SELECT COUNT(*) FROM users"));
    assert_eq!(conversations, 900);
    assert_eq!(users, 300);
    assert_eq!(messages as u64, report["messages"].as_u64().unwrap());
    let in_data_dir = std::fs::read_dir(postgres.data_dir()).map_or(0, |d| d.count());
    assert_eq!(in_data_dir, 0, "nothing was written to sled");
    runtime.block_on(schema.drop_all());
}

/// Marks the user of the first conversation due as a minor and returns
/// what the due query then says of that user: the settings each store
/// keeps beside its due conversations follow the change.
async fn minor_after_change(store: &StoreBackend, now: DateTime<Utc>) -> (bool, bool) {
    let due = store.due_candidates(now).await.unwrap();
    let first = &due.first().expect("a conversation is due").conversation;
    let before = due[0].user.as_ref().is_some_and(|u| u.minor);
    store
        .update_user(&first.user, now, &|u| u.minor = true)
        .await
        .unwrap();
    let after = store.due_candidates(now).await.unwrap();
    let entry = after
        .iter()
        .find(|c| c.conversation.id == first.id)
        .expect("still in the due index");
    (before, entry.user.as_ref().is_some_and(|u| u.minor))
}

#[test]
fn a_users_settings_changed_after_populate_reach_the_due_query_on_both_stores() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let personas = Personas::builtin();
    let policy = FollowUpPolicy::default();
    let options = PopulateOptions {
        conversations: 300,
        due_percent: 10.0,
        with_messages: false,
        seed: 7,
    };
    let dir = tempfile::tempdir().unwrap();
    let sled = Store::open(dir.path()).unwrap();
    populate(&sled, &personas, &policy, now, options, &mut Silent).unwrap();
    let sled = StoreBackend::Sled(sled);
    assert_eq!(
        runtime.block_on(minor_after_change(&sled, now)),
        (false, true)
    );
    let Some(url) = database_url("populate::settings_reach_due_query") else {
        return;
    };
    let schema = runtime.block_on(TestSchema::create(&url));
    runtime.block_on(async {
        let store = PgStore::open(schema.database()).await.unwrap();
        populate_postgres(&store, &personas, &policy, now, options, &mut Silent)
            .await
            .unwrap();
        let postgres = StoreBackend::Postgres(store.clone());
        assert_eq!(minor_after_change(&postgres, now).await, (false, true));
        store.close().await;
    });
    runtime.block_on(schema.drop_all());
}
