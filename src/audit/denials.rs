//! Denials before anyone is signed in — a server function called without a session, a failed or
//! throttled sign-in — counted in `pf_denials` rather than written to the audit log one row per
//! request: per minute, source (the client's address block), event, permission and account. A
//! flood adds a row per new combination, never one per request; past [`SOURCES_PER_MINUTE`]
//! sources in one minute, the rest of that minute counts under [`OVERFLOW`]. Rows older than
//! [`KEPT`] are removed by housekeeping. Each denial keeps what its audit entry said (the event,
//! the address, the permission asked for, the account tried), with a count and the first and
//! last time.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use uuid::Uuid;

use crate::{
    audit::AuditEvent,
    db::{Db, now, with_db},
};

/// Sources that get rows of their own in one minute.
pub const SOURCES_PER_MINUTE: i64 = 1_000;
/// The source the rest of a minute's denials count under.
pub const OVERFLOW: &str = "*";
/// How long counts are kept.
pub const KEPT: TimeDelta = TimeDelta::days(90);

/// One denial, as its audit entry would have said it.
#[derive(Debug, Clone, Copy)]
pub struct Denial<'a> {
    pub event: AuditEvent,
    /// The client's address block (see `auth::request::throttle_key`).
    pub source: &'a str,
    /// The permission the request needed, if it was a server function.
    pub permission: Option<&'a str>,
    /// The account a sign-in named, when it exists.
    pub account: Option<Uuid>,
}

/// Counts `denial` in its minute.
pub async fn count(db: &Db, denial: Denial<'_>) -> Result<(), sqlx::Error> {
    let at = now();
    let minute = minute_of(at);
    let event = denial.event.as_str();
    let permission = denial.permission.unwrap_or("");
    let account = denial.account.map(|id| id.to_string()).unwrap_or_default();
    // One statement: the combination's row gets one more; a new combination gets a row of its
    // own while the minute has room, else the overflow's. (CASE decides in order, so the count of
    // the minute's rows is taken only for a combination not seen yet.)
    with_db!(db, pool => {
        sqlx::query(
            "INSERT INTO pf_denials (minute, source, event, permission, account_id, count, first_at, last_at) \
             SELECT $1, CASE \
                 WHEN EXISTS (SELECT 1 FROM pf_denials WHERE minute = $1 AND source = $2 AND event = $3 \
                              AND permission = $4 AND account_id = $5) THEN $2 \
                 WHEN (SELECT COUNT(*) FROM pf_denials WHERE minute = $1) < $7 THEN $2 \
                 ELSE $8 END, \
                    $3, $4, $5, 1, $6, $6 WHERE TRUE \
             ON CONFLICT (minute, source, event, permission, account_id) \
             DO UPDATE SET count = pf_denials.count + 1, last_at = excluded.last_at",
        )
        .bind(minute)
        .bind(denial.source)
        .bind(event)
        .bind(permission)
        .bind(&account)
        .bind(at)
        .bind(SOURCES_PER_MINUTE)
        .bind(OVERFLOW)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Removes counts older than [`KEPT`]; returns how many rows.
pub async fn purge_stale(db: &Db) -> Result<u64, sqlx::Error> {
    let before = minute_of(now() - KEPT);
    with_db!(db, pool => {
        sqlx::query("DELETE FROM pf_denials WHERE minute < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
}

/// The minute `at` falls in.
fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_starts_on_its_first_second() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T10:41:59.987654Z")
            .unwrap()
            .to_utc();
        assert_eq!(minute_of(at).to_rfc3339(), "2026-11-27T10:41:00+00:00");
    }
}
