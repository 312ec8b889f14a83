//! `troupe dev populate` (the real binary) on either store: the same seed
//! builds the same conversations in sled and in PostgreSQL, and
//! `followups due` on each then finds exactly the conversations built to
//! be due. The PostgreSQL half runs when `TROUPE_TEST_DATABASE_URL` is set
//! (in a schema of its own).

use serde_json::Value;

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
