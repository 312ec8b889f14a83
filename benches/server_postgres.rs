//! Chat turns per second through the API on PostgreSQL: one `troupe serve`
//! on a database, then three on the same database with the clients spread
//! over them, next to one server on sled in the same run.
//!
//! Each server is the real binary (release build) with the offline backend,
//! a stand-in model that answers at once. On PostgreSQL a turn commits the
//! user's message before the model is called and the reply after, as sled
//! flushes them. The database, the servers and this load generator share
//! the machine's cores, so three servers on one machine measure what the
//! database takes under three servers' load, not what three machines
//! would serve.
//!
//! Needs `TROUPE_BENCH_DATABASE_URL` (a database the bench may create a
//! schema in, such as postgres://root@127.0.0.1:5432/test); without it, it
//! prints that it skips. `TROUPE_BENCH_TURNS` sets the turns per level
//! (default 2,000). `scripts/bench-figures` puts its figures in the docs.

#[path = "support/figures.rs"]
mod figures;
#[path = "support/load.rs"]
mod load;

use sqlx::Connection;

use figures::env_usize;
use load::{BoxError, load, start_bare, start_server};

/// Client counts measured on each setup.
const CLIENTS: [usize; 3] = [1, 16, 256];

fn main() -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(url) = std::env::var("TROUPE_BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!(
            "server_postgres: SKIPPED: TROUPE_BENCH_DATABASE_URL is not set (set it to a database the bench may create a schema in, such as postgres://root@127.0.0.1:5432/test)"
        );
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let schema = format!("troupe_bench_serve_{}", std::process::id());
    runtime.block_on(admin(&url, &format!("CREATE SCHEMA {schema}")))?;
    let measured = measure(&runtime, &url, &schema);
    runtime.block_on(admin(&url, &format!("DROP SCHEMA {schema} CASCADE")))?;
    measured
}

/// Runs one statement on the database at `url`.
async fn admin(url: &str, sql: &str) -> Result<(), BoxError> {
    let mut connection = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut connection)
        .await?;
    Ok(())
}

/// Every setup's figures.
fn measure(runtime: &tokio::runtime::Runtime, url: &str, schema: &str) -> Result<(), BoxError> {
    let turns = env_usize("TROUPE_BENCH_TURNS", 2_000);
    let separator = if url.contains('?') { '&' } else { '?' };
    let database = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let on_database = [("TROUPE_DATABASE_URL", database)];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    let bare = vec![start_bare()?];
    let keys = ["floor_turns_per_s", "floor_p50_ms", "floor_p99_ms"];
    let label = "bare axum handler (floor)";
    runtime.block_on(run(&client, &bare, turns, keys, label))?;
    let sled = start_server(&[])?;
    let urls = vec![sled.url.clone()];
    let keys = ["sled_turns_per_s", "sled_p50_ms", "sled_p99_ms"];
    let label = "troupe, JSON, sled, 1 server";
    runtime.block_on(run(&client, &urls, turns, keys, label))?;
    drop(sled);
    let first = start_server(&on_database)?;
    let urls = vec![first.url.clone()];
    let keys = ["pg1_turns_per_s", "pg1_p50_ms", "pg1_p99_ms"];
    let label = "troupe, JSON, PostgreSQL, 1 server";
    runtime.block_on(run(&client, &urls, turns, keys, label))?;
    let (second, third) = (start_server(&on_database)?, start_server(&on_database)?);
    let urls = vec![first.url.clone(), second.url.clone(), third.url.clone()];
    let keys = ["pg3_turns_per_s", "pg3_p50_ms", "pg3_p99_ms"];
    let label = "troupe, JSON, PostgreSQL, 3 servers";
    runtime.block_on(run(&client, &urls, turns, keys, label))
}

/// Warms the servers at `urls` up, then loads them at each of
/// [`CLIENTS`] (client `c` to server `c % urls.len()`), printing the
/// turns per second, p50 and p99 under `keys`.
async fn run(
    client: &reqwest::Client,
    urls: &[String],
    turns: usize,
    keys: [&str; 3],
    label: &str,
) -> Result<(), BoxError> {
    load(client, urls, 4 * urls.len(), 200, false).await?;
    for clients in CLIENTS {
        let n = if clients == 1 { turns / 4 } else { turns };
        let sample = load(client, urls, clients, n, false).await?;
        sample.figures(keys, label, clients);
    }
    Ok(())
}
