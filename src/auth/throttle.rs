//! Failed sign-ins, counted per account and per client address in the database (shared by every
//! web process). Past a limit within the window, sign-in is refused until the window has passed.
//!
//! Every attempt is recorded as a failure *before* the password is checked and forgiven only when
//! it succeeds, so a burst of parallel attempts cannot all slip under the limit.

use chrono::{DateTime, Utc};

use chrono::TimeDelta;

use crate::db::{Db, now, with_db};

/// How far back failures count.
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures for one account within the window before it is locked.
pub const PER_ACCOUNT: i64 = 5;
/// Failures from one address within the window before it is locked (several accounts' worth).
pub const PER_ADDRESS: i64 = 20;

async fn count(db: &Db, scope: &str, key: &str) -> Result<i64, sqlx::Error> {
    let since = now() - WINDOW;
    with_db!(db, pool => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_failures WHERE scope = $1 AND key = $2 AND failed_at > $3",
        )
        .bind(scope)
        .bind(key)
        .bind(since)
        .fetch_one(pool)
        .await
    })
}

/// True when this account or this address has failed too often recently (counting the attempt
/// just recorded by [`record_attempt`]).
pub async fn is_locked(db: &Db, email: &str, address: &str) -> Result<bool, sqlx::Error> {
    Ok(
        count(db, "account", email).await? > PER_ACCOUNT
            || count(db, "address", address).await? > PER_ADDRESS,
    )
}

/// Counts this attempt as a failure against the account and the address until [`forgive`]
/// says otherwise; returns its time.
pub async fn record_attempt(db: &Db, email: &str, address: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    let at = now();
    with_db!(db, pool => {
        sqlx::query("INSERT INTO login_failures (scope, key, failed_at) VALUES ('account', $1, $3), ('address', $2, $3)")
            .bind(email)
            .bind(address)
            .bind(at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(at)
}

/// After a successful sign-in: forgets the account's failures, this attempt's mark against the
/// address, and everyone's failures older than the window.
pub async fn forgive(
    db: &Db,
    email: &str,
    address: &str,
    attempt_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let before = now() - WINDOW;
    with_db!(db, pool => {
        sqlx::query(
            "DELETE FROM login_failures WHERE (scope = 'account' AND key = $1) \
             OR (scope = 'address' AND key = $2 AND failed_at = $3) OR failed_at <= $4",
        )
            .bind(email)
            .bind(address)
            .bind(attempt_at)
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Removes failures older than the window (they no longer count); returns how many.
pub async fn purge_stale(db: &Db) -> Result<u64, sqlx::Error> {
    let before = now() - WINDOW;
    with_db!(db, pool => {
        sqlx::query("DELETE FROM login_failures WHERE failed_at <= $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
}
