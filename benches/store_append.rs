//! What an acknowledged chat message costs on each store: appends per
//! second, each durable before it returns (sled flushes, PostgreSQL commits
//! with `synchronous_commit = on`), through the store interface
//! ([`troupe::store::StoreBackend`]).
//!
//! Three loads, each 400 appends (`TROUPE_BENCH_APPENDS` changes that):
//! one writer; 16 writers on 16 users' conversations; 8 writers on one
//! conversation (they queue on it: on PostgreSQL, on its row lock).
//! sled always; PostgreSQL when `TROUPE_TEST_DATABASE_URL` names a database
//! (in a schema of its own, dropped afterwards).
//!
//! Run with `cargo bench --bench store_append`.

use std::time::Instant;

use chrono::Utc;
use sqlx::{Connection, PgConnection};
use troupe::store::postgres::{Database, PgStore};
use troupe::store::{AppendEffects, Message, Store, StoreBackend};

/// Runs `appends` appends split across `writers` tasks, writer `w` on
/// user `users(w)`; returns appends per second.
async fn load(
    store: &StoreBackend,
    appends: usize,
    writers: usize,
    users: fn(usize) -> String,
) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let user = users(w);
            tokio::spawn(async move {
                for i in 0..appends / writers {
                    let message = Message::from_user(format!("turn {i} of writer {w}"), Utc::now());
                    store
                        .append(&user, "chef", &message, &AppendEffects::NONE)
                        .await
                        .expect("the append is stored");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the writer finishes");
    }
    appends as f64 / start.elapsed().as_secs_f64()
}

/// Prints the three loads' figures for `store`, under `name`.
async fn measure(name: &str, store: &StoreBackend, appends: usize) {
    let one = load(store, appends, 1, |_| "solo".to_string()).await;
    let spread = load(store, appends, 16, |w| format!("user{w}")).await;
    let same = load(store, appends, 8, |_| "shared".to_string()).await;
    println!("{name}_appends_per_s_one_writer: {one:.0}");
    println!("{name}_appends_per_s_16_users: {spread:.0}");
    println!("{name}_appends_per_s_8_writers_one_conversation: {same:.0}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let appends: usize = std::env::var("TROUPE_BENCH_APPENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let dir = tempfile::tempdir().expect("temp dir");
    let sled = StoreBackend::Sled(Store::open(dir.path()).expect("a fresh store"));
    measure("sled", &sled, appends).await;
    drop(sled);
    let Some(url) = std::env::var("TROUPE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("postgres: skipped (TROUPE_TEST_DATABASE_URL is not set)");
        return;
    };
    let schema = format!("troupe_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(&url)
        .await
        .expect("the database answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("a schema of its own");
    let database = Database::parse(&url)
        .expect("a PostgreSQL URL")
        .in_schema(&schema);
    let store = PgStore::open(database).await.expect("migrated");
    measure("postgres", &StoreBackend::Postgres(store.clone()), appends).await;
    store.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("the schema is dropped");
}
