//! Failed sign-ins, counted in the database (shared by every web process) per account *and*
//! address block, and per address block alone. Past a limit within the window, sign-in is
//! refused until the window has passed:
//! - an account is locked only for the address that failed on it, so a stranger who fails on a
//!   known account on purpose locks out themselves, not its owner;
//! - an address that fails across many accounts is locked for all of them, but only when the
//!   address is the client's own (`TRUST_PROXY` set: behind a proxy, the hop it vouches for).
//!   Without it the server may sit behind a load balancer whose one address every client shares,
//!   and locking that address would lock everyone out.
//!
//! An attempt is counted as a failure *before* the password is checked and forgiven only when
//! it succeeds, so a burst of parallel attempts cannot all slip under the limit; an attempt
//! already refused is not counted again, so a locked flood writes nothing here.

use chrono::{DateTime, TimeDelta, Utc};

use crate::db::{Db, now, with_db};

/// How far back failures count.
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures for one account from one address block within the window before that pair is locked.
pub const PER_ACCOUNT: i64 = 5;
/// Failures from one address block within the window before it is locked (several accounts'
/// worth), when addresses are clients' own.
pub const PER_ADDRESS: i64 = 20;

/// Who is signing in from where, as throttling counts it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub email: &'a str,
    /// The client's address block (`auth::request::throttle_key`).
    pub block: &'a str,
    /// Whether the block alone may be locked (addresses are clients' own).
    pub lock_addresses: bool,
}

impl Attempt<'_> {
    /// The account-and-address key.
    fn pair(&self) -> String {
        format!("{} {}", self.block, self.email)
    }
}

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

/// Whether `attempt` is refused: its account has failed from its address too often, or (when
/// addresses can be locked) its address has. `counted` says whether `attempt` itself is among
/// the failures already (after [`record_attempt`]), which the limits then allow for.
pub async fn is_locked(db: &Db, attempt: Attempt<'_>, counted: bool) -> Result<bool, sqlx::Error> {
    let allowance = i64::from(counted);
    if count(db, "account", &attempt.pair()).await? >= PER_ACCOUNT + allowance {
        return Ok(true);
    }
    Ok(attempt.lock_addresses && count(db, "address", attempt.block).await? >= PER_ADDRESS + allowance)
}

/// Counts `attempt` as a failure against its account-and-address and its address until
/// [`forgive`] or [`withdraw`] says otherwise; returns its time.
pub async fn record_attempt(db: &Db, attempt: Attempt<'_>) -> Result<DateTime<Utc>, sqlx::Error> {
    let at = now();
    with_db!(db, pool => {
        sqlx::query("INSERT INTO login_failures (scope, key, failed_at) VALUES ('account', $1, $3), ('address', $2, $3)")
            .bind(attempt.pair())
            .bind(attempt.block)
            .bind(at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(at)
}

/// Takes back the marks of an attempt whose password was never checked (refused at the second
/// look, or the server was busy).
pub async fn withdraw(db: &Db, attempt: Attempt<'_>, attempt_at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query(
            "DELETE FROM login_failures WHERE failed_at = $3 \
             AND ((scope = 'account' AND key = $1) OR (scope = 'address' AND key = $2))",
        )
        .bind(attempt.pair())
        .bind(attempt.block)
        .bind(attempt_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// After a successful sign-in: forgets the account's failures from this address, this
/// attempt's mark against the address, and everyone's failures older than the window.
pub async fn forgive(db: &Db, attempt: Attempt<'_>, attempt_at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let before = now() - WINDOW;
    with_db!(db, pool => {
        sqlx::query(
            "DELETE FROM login_failures WHERE (scope = 'account' AND key = $1) \
             OR (scope = 'address' AND key = $2 AND failed_at = $3) OR failed_at <= $4",
        )
            .bind(attempt.pair())
            .bind(attempt.block)
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
