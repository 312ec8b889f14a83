//! The due query on PostgreSQL against a bare indexed range query of the
//! same rows.
//!
//! Builds, in a schema of its own in the database `TROUPE_BENCH_DATABASE_URL`
//! names, 1,000,000 conversations (`TROUPE_BENCH_CONVERSATIONS` changes
//! that) of which 1% are due, without messages, with `troupe dev
//! populate`'s loader (`COPY`, timed: that is the populate figure), runs
//! `ANALYZE`, then times, over several rounds, warm:
//! - the due query (`followups due` on PostgreSQL: one statement reading
//!   the due index and the conversation rows, which keep their users'
//!   settings, every row decoded, every rule checked);
//! - the same statement alone (rows fetched, nothing decoded or checked);
//! - a bare indexed range query of the same rows (their ids, read from the
//!   partial index `conversations_due`): the floor;
//!
//! and prints `EXPLAIN (ANALYZE, BUFFERS)` of the due statement and of the
//! bare query on stderr (`scripts/bench-figures` keeps only stdout's figures).
//! The schema is dropped at the end (`TROUPE_BENCH_KEEP_SCHEMA=1` keeps it).
//!
//! Run with `TROUPE_BENCH_DATABASE_URL=postgres://… cargo bench --bench
//! due_query_postgres` (`TROUPE_BENCH_ROUNDS` sets the rounds, default 7).

#[path = "support/figures.rs"]
mod figures;

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use figures::{count, duration, env_usize, figure};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use troupe::clock::Clock;
use troupe::followup::{FollowUpPolicy, FollowUps};
use troupe::persona::Personas;
use troupe::populate::{PopulateOptions, populate_postgres};
use troupe::prompt::Prompts;
use troupe::store::postgres::{DUE_QUERY, Database, PgStore};
use troupe::store::{Store, StoreAccess, StoreBackend};

/// The bare range query: the ids of the same rows, from the index alone.
const BARE_QUERY: &str = "SELECT id FROM conversations
     WHERE due_from IS NOT NULL AND due_from <= $1 ORDER BY due_from";

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let Some(url) = std::env::var("TROUPE_BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        println!(
            "due_query_postgres: SKIPPED: TROUPE_BENCH_DATABASE_URL is not set (set it to a database the bench may create a schema in, such as postgres://root@127.0.0.1:5432/test)"
        );
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&url))
}

async fn run(url: &str) -> Result<(), Failure> {
    let schema = format!("troupe_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await?;
    let result = measure(url, &schema).await;
    if std::env::var("TROUPE_BENCH_KEEP_SCHEMA").as_deref() != Ok("1") {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut admin)
            .await?;
    }
    result
}

async fn measure(url: &str, schema: &str) -> Result<(), Failure> {
    let conversations = env_usize("TROUPE_BENCH_CONVERSATIONS", 1_000_000);
    let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse()?;
    let store = PgStore::open(Database::parse(url)?.in_schema(schema)).await?;
    let pool: PgPool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(PgConnectOptions::from_str(url)?.options([("search_path", schema)]))
        .await?;
    let personas = Personas::builtin();
    let policy = FollowUpPolicy::default();
    let options = PopulateOptions {
        conversations,
        due_percent: 1.0,
        with_messages: false,
        seed: 7,
    };
    let started = Instant::now();
    let report = populate_postgres(
        &store,
        &personas,
        &policy,
        now,
        options,
        &mut troupe::progress::Silent,
    )
    .await?;
    let built = started.elapsed();
    sqlx::raw_sql("ANALYZE").execute(&pool).await?;

    let prompts = Prompts::builtin()?;
    let dir = tempfile::tempdir()?;
    // `due_on` reads PostgreSQL alone; the service wants a sled handle too.
    let access = StoreAccess::kept(Store::open(dir.path())?);
    let followups = FollowUps {
        store: &access,
        personas: std::sync::Arc::new(personas.clone()),
        prompts: &prompts,
        policy: &policy,
        safety: &troupe::safety::SafetyConfig::default(),
        clock: Clock::fixed(now),
        webhooks: Vec::new(),
    };
    let backend = StoreBackend::Postgres(store.clone());
    let rounds = env_usize("TROUPE_BENCH_ROUNDS", 7).max(1);
    let mut due = 0;
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    let mut rows = (0, 0);
    for _ in 0..rounds {
        let start = Instant::now();
        due = followups.due_on(&backend).await?.len();
        samples[0].push(start.elapsed());
        let start = Instant::now();
        rows.0 = sqlx::query(DUE_QUERY)
            .bind(now)
            .fetch_all(&pool)
            .await?
            .len();
        samples[1].push(start.elapsed());
        let start = Instant::now();
        rows.1 = sqlx::query(BARE_QUERY)
            .bind(now)
            .fetch_all(&pool)
            .await?
            .len();
        samples[2].push(start.elapsed());
    }
    let [due_time, statement_time, bare_time] = samples.map(median);

    figure(
        "pg_conversations",
        "conversations in the database (3 personas, no messages)",
        "figure",
        &count(report.conversations),
    );
    figure(
        "pg_populate",
        "database built (`dev populate` on PostgreSQL, COPY, no messages)",
        "figure",
        &duration(built),
    );
    figure("pg_due", "conversations due", "figure", &count(due));
    figure(
        "pg_candidates",
        "rows the due statement and the bare query return",
        "figure",
        &format!("{} and {}", count(rows.0), count(rows.1)),
    );
    let rows = [
        (
            "pg_due_query",
            "**due query** (`followups due` on PostgreSQL: one statement, every row decoded, every rule checked), median",
            due_time,
        ),
        (
            "pg_due_statement",
            "the due statement alone (rows fetched, nothing checked), median",
            statement_time,
        ),
        (
            "pg_bare_range",
            "bare indexed range query of the same rows (ids from `conversations_due`), median",
            bare_time,
        ),
    ];
    for (key, row, time) in rows {
        figure(key, row, "figure", &duration(time));
    }
    for (name, query) in [
        ("due statement", DUE_QUERY),
        ("bare range query", BARE_QUERY),
    ] {
        let literal = format!("'{}'::timestamptz", now.to_rfc3339());
        let explain = format!(
            "EXPLAIN (ANALYZE, BUFFERS) {}",
            query.replace("$1", &literal)
        );
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
            .fetch_all(&pool)
            .await?;
        eprintln!("EXPLAIN ANALYZE, {name}:");
        for line in plan {
            eprintln!("    {line}");
        }
    }
    store.close().await;
    pool.close().await;
    Ok(())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
