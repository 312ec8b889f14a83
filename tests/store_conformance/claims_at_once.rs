//! PostgreSQL only: workers in two processes (two connection pools)
//! claiming and delivering at once, one of them killed after claiming,
//! deliver each due follow-up exactly once.

use chrono::Duration;
use troupe::store::StoreBackend;
use troupe::store::postgres::PgStore;

use super::at;
use super::followups::{LEASE, append_due, claim, deliver};
use crate::support::postgres::{TestSchema, database_url};

/// Due conversations in the test.
const DUE: i64 = 200;

/// Workers delivering at once, half in each process.
const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_in_two_processes_deliver_each_of_200_due_follow_ups_exactly_once() {
    let Some(url) =
        database_url("workers_in_two_processes_deliver_each_of_200_due_follow_ups_exactly_once")
    else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let first = PgStore::open(schema.database()).await.expect("migrated");
    let second = PgStore::open(schema.database()).await.expect("opens again");
    let processes = [
        StoreBackend::Postgres(first.clone()),
        StoreBackend::Postgres(second.clone()),
    ];
    for i in 0..DUE {
        let store = &processes[i as usize % 2];
        append_due(store, &format!("user{i:03}"), "chef", 100 + i).await;
    }
    // A worker claims 20 and is killed before delivering any.
    let killed = claim(&processes[0], at(400), 20, "killed").await;
    let later = at(400) + Duration::seconds(LEASE + 1);
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let store = processes[w % 2].clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut delivered = 0;
            loop {
                let claims = claim(&store, later, 7, &owner).await;
                if claims.is_empty() {
                    return delivered;
                }
                for c in &claims {
                    assert!(deliver(&store, c, later, &|_| true).await, "{c:?}");
                    assert!(
                        !deliver(&store, c, later, &|_| true).await,
                        "delivered twice"
                    );
                    delivered += 1;
                }
            }
        }));
    }
    let mut delivered = 0;
    for worker in workers {
        delivered += worker.await.expect("the worker finishes");
    }
    let mut late = 0;
    for c in &killed {
        late += usize::from(deliver(&processes[0], c, later, &|_| true).await);
    }
    let count = |sql: &'static str| schema.number(sql);
    let followup_messages = count("SELECT COUNT(*) FROM messages WHERE kind = 'follow-up'").await;
    let recorded = count("SELECT COUNT(DISTINCT conversation_id) FROM followups").await;
    let once = count(
        "SELECT COUNT(*) FROM conversations WHERE followups_sent = 1 AND pending_followup IS NULL",
    )
    .await;
    let queued = count("SELECT COUNT(*) FROM outbox").await;
    first.close().await;
    second.close().await;
    schema.drop_all().await;
    assert_eq!(killed.len(), 20);
    assert_eq!(delivered, DUE as usize, "every due follow-up delivered");
    assert_eq!(late, 0, "the killed worker's claims were taken over");
    assert_eq!(followup_messages, DUE, "one follow-up message each");
    assert_eq!(recorded, DUE);
    assert_eq!(once, DUE, "none lost, none doubled");
    assert_eq!(queued, DUE, "one webhook delivery each");
}
