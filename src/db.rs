//! The database: SQLite (the embedded default) or Postgres, chosen by `DATABASE_URL`, and migrations.
//!
//! Most queries are written once and run on both backends through [`with_db!`], which expands the
//! same block for each pool type; only where the dialects really differ does code branch on
//! [`Db`]. Instants are always bound from Rust ([`now`]), never taken from SQL defaults.

use std::{os::unix::fs::DirBuilderExt, str::FromStr, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Whether a failed query may succeed if tried again later: the connection or the server went
/// away, or a lock, a resource or a serialisation was short. A query that cannot be decoded or
/// that the database rejects fails the same way every time.
pub fn may_pass(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            let Some(code) = error.code() else {
                return false;
            };
            if error
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // SQLSTATE classes: connection exception, insufficient resources, operator
                // intervention (shutdown, restart), system error; serialisation, deadlock, lock.
                ["08", "53", "57P", "58"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || matches!(code.as_ref(), "40001" | "40P01" | "55P03")
            } else {
                // SQLite's (extended) result codes: BUSY, LOCKED, IOERR.
                code.parse::<i32>()
                    .is_ok_and(|number| matches!(number & 0xff, 5 | 6 | 10))
            }
        }
        _ => false,
    }
}

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

/// A transaction on either database.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same block on whichever connection the transaction `$tx` (a `&mut Tx`) holds,
/// binding it to `$conn`; like [`with_db!`], compiled once per backend.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub use crate::with_tx;

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// `"sqlite"` or `"postgres"`, like [`Db::backend`].
    pub fn backend(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "sqlite",
            Tx::Postgres(_) => "postgres",
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

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
            let options = SqliteConnectOptions::from_str(url)?;
            // A fresh checkout has no data directory yet: the database file's is created here,
            // readable by the owner only.
            if let Some(dir) = options
                .get_filename()
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
            {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| {
                        sqlx::Error::Configuration(format!("cannot create {}: {e}", dir.display()).into())
                    })?;
            }
            // The database holds PHI: its file is the owner's alone, made so before SQLite opens
            // it (its -wal and -shm files take the database file's mode).
            let file = options.get_filename();
            if !file.as_os_str().is_empty() && file != std::path::Path::new(":memory:") {
                use std::os::unix::fs::OpenOptionsExt;
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(file)
                {
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(error) => {
                        return Err(sqlx::Error::Configuration(
                            format!("cannot create {}: {error}", file.display()).into(),
                        ));
                    }
                }
            }
            let options = options
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

    /// Begins a transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Begins a read-only transaction in which every statement sees the database as of its first
    /// read (Postgres: REPEATABLE READ, READ ONLY; SQLite: one read transaction over the
    /// write-ahead log), so several queries answer about one moment.
    pub async fn begin_snapshot(&self) -> Result<Tx, sqlx::Error> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(tx) = &mut tx {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut **tx)
                .await?;
        }
        Ok(tx)
    }

    /// Begins a transaction that runs alone among those begun with the same `key`, on every
    /// process: check-then-write sequences inside it cannot interleave. Postgres takes a
    /// transaction-scoped advisory lock on the key; SQLite takes the database's write lock at
    /// once (`BEGIN IMMEDIATE`), which serialises every writer anyway.
    pub async fn begin_serialized(&self, key: uuid::Uuid) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let (high, _) = key.as_u64_pair();
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(high as i64)
                    .execute(&mut *tx)
                    .await?;
                Tx::Postgres(tx)
            }
        })
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
