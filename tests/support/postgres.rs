//! A PostgreSQL schema of its own for each test, in the database named by
//! `TROUPE_TEST_DATABASE_URL`, dropped when the test is done (passed or
//! failed).

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection};
use troupe::store::postgres::Database;

/// The env var naming the test database; unset, PostgreSQL tests skip.
pub const DATABASE_ENV: &str = "TROUPE_TEST_DATABASE_URL";

/// The test database's URL, or `None` after printing why the PostgreSQL
/// half of `test` is skipped.
pub fn database_url(test: &str) -> Option<String> {
    let url = std::env::var(DATABASE_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty());
    if url.is_none() {
        // Written past the test harness's capture, so it shows in every run.
        let _ = writeln!(
            std::io::stderr(),
            "{test}: the PostgreSQL half is SKIPPED: {DATABASE_ENV} is not set (set it to a database troupe may create schemas in, such as postgres://root@127.0.0.1:5432/test; .ci/run does)"
        );
    }
    url
}

/// A schema created for one test.
pub struct TestSchema {
    /// The test database's URL.
    url: String,
    /// The schema's name.
    pub name: String,
}

impl TestSchema {
    /// Creates a fresh, empty schema in the database at `url`.
    pub async fn create(url: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "troupe_test_{}_{}_{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let schema = Self {
            url: url.to_string(),
            name,
        };
        schema
            .execute(format!("CREATE SCHEMA {}", schema.name))
            .await;
        schema
    }

    /// The test database's URL with this schema as its search path, for a
    /// `troupe` process (`TROUPE_DATABASE_URL`).
    pub fn process_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.url, self.name
        )
    }

    /// The test database, with every table in this schema.
    pub fn database(&self) -> Database {
        Database::parse(&self.url)
            .expect("TROUPE_TEST_DATABASE_URL is a PostgreSQL URL")
            .in_schema(&self.name)
    }

    /// Runs one statement in this schema.
    pub async fn execute(&self, sql: String) {
        let mut connection = self.connect().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut connection)
            .await
            .expect("the statement runs");
        connection.close().await.ok();
    }

    /// One number a query returns, in this schema.
    pub async fn number(&self, sql: &str) -> i64 {
        let mut connection = self.connect().await;
        let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut connection)
            .await
            .expect("the query runs");
        connection.close().await.ok();
        value
    }

    /// The first column of every row a query returns, as text, in this
    /// schema.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let mut connection = self.connect().await;
        let values = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut connection)
            .await
            .expect("the query runs");
        connection.close().await.ok();
        values
    }

    /// A connection whose search path is this schema.
    async fn connect(&self) -> PgConnection {
        let options: sqlx::postgres::PgConnectOptions = self
            .url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .expect("TROUPE_TEST_DATABASE_URL is a PostgreSQL URL")
            .options([("search_path", self.name.as_str())]);
        PgConnection::connect_with(&options)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {DATABASE_ENV}: {e}"))
    }

    /// Drops the schema and everything in it.
    pub async fn drop_all(self) {
        self.execute(format!("DROP SCHEMA {} CASCADE", self.name))
            .await;
    }
}
