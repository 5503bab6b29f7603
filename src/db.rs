//! The database: SQLite (the embedded default) or Postgres, chosen by `DATABASE_URL`, and migrations.
//!
//! Most queries are written once and run on both backends through [`with_db!`], which expands the
//! same block for each pool type; only where the dialects really differ does code branch on
//! [`Db`]. Instants are always bound from Rust ([`now`]), never taken from SQL defaults.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// A connection pool to one of the two supported databases.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same block against whichever pool `db` holds, binding it to `$pool`.
///
/// The block is compiled once per backend, so everything in it must type-check for both.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub use crate::with_db;

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), creating a SQLite file if missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(15));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres://".into(),
            ))
        }
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
    }

    /// `"sqlite"` or `"postgres"`, for logs and benchmark tables.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        with_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|done| done.rows_affected()).is_ok())
    }

    pub async fn close(&self) {
        with_db!(self, pool => pool.close().await)
    }
}

/// The current instant at the precision both databases keep (microseconds), so a value read
/// back equals the value written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// `url` with any password replaced by `***`, safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_from_database_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.internal:5432/exports?sslmode=require"),
            "postgres://app:***@db.internal:5432/exports?sslmode=require"
        );
        assert_eq!(redact_url("sqlite://data/exports.db"), "sqlite://data/exports.db");
        assert!(!redact_url("postgres://a:b@c/d").contains(":b@"));
    }

    #[test]
    fn now_is_truncated_to_microseconds() {
        assert_eq!(now().timestamp_subsec_nanos() % 1000, 0);
    }
}
