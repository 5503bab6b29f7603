//! What happens to a request after it is queued, other than producing it: cancelling it, its file
//! expiring after the organisation's retention, and that retention itself. Each change commits
//! with its audit entry and the notes of the files it makes garbage (`deletions`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{
    audit::{self, Actor, AuditEntry, AuditEvent},
    db::{Db, Tx, now, with_db, with_tx},
    exports::{
        deletions,
        model::{Cancelled, ExportStatus, Retention},
        stored::{COLUMNS, StoredRequest},
    },
};

/// Completed files due at most this many at a time per sweep.
pub const EXPIRE_BATCH: i64 = 50;

/// Why a cancel changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCancelled {
    /// It had finished (completed, failed or expired) before the cancel arrived.
    Finished(ExportStatus),
    /// No such request in the organisation.
    Missing,
}

/// Cancels the organisation's request `id` for `by`: a pending one at once, a processing one by
/// asking its worker to stop (it records `cancelled` within seconds). Asking again is harmless and
/// audited once. Races with the worker's outcome are settled by the row: exactly one wins.
pub async fn cancel(
    db: &Db,
    by: &impl Actor,
    id: Uuid,
) -> Result<Result<Cancelled, NotCancelled>, sqlx::Error> {
    let organization_id = by.organization_id();
    let at = now();
    let mut tx = db.begin().await?;
    // Pending: nobody holds it, so it ends here (an earlier attempt may have left a file).
    let pending: Option<StoredRequest> = with_tx!(&mut tx, conn => {
        sqlx::query_as(&format!(
            "UPDATE pf_export_requests SET status = 'cancelled', cancel_requested_at = $3, completed_at = $3, \
             progress = 0 WHERE id = $1 AND organization_id = $2 AND status = 'pending' RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(organization_id)
        .bind(at)
        .fetch_optional(conn)
        .await
    })?;
    let outcome = if let Some(stored) = pending {
        deletions::note_in(&mut tx, id, &stored.every_file_key()).await?;
        Cancelled::Now
    } else {
        let asked = with_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE pf_export_requests SET cancel_requested_at = $3 WHERE id = $1 AND organization_id = $2 \
                 AND status = 'processing' AND cancel_requested_at IS NULL",
            )
            .bind(id)
            .bind(organization_id)
            .bind(at)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
        })?;
        if asked == 0 {
            // Already cancelled or being cancelled (nothing to do), or finished.
            tx.rollback().await?;
            let status: Option<(String, bool)> = with_db!(db, pool => {
                sqlx::query_as(
                    "SELECT status, cancel_requested_at IS NOT NULL FROM pf_export_requests \
                     WHERE id = $1 AND organization_id = $2",
                )
                .bind(id)
                .bind(organization_id)
                .fetch_optional(pool)
                .await
            })?;
            return Ok(match status {
                None => Err(NotCancelled::Missing),
                Some((status, asked)) => match ExportStatus::from_key(&status) {
                    Some(ExportStatus::Cancelled) => Ok(Cancelled::Now),
                    Some(ExportStatus::Processing) if asked => Ok(Cancelled::Stopping),
                    Some(other) => Err(NotCancelled::Finished(other)),
                    None => Err(NotCancelled::Missing),
                },
            });
        }
        Cancelled::Stopping
    };
    audit::record_in(
        &mut tx,
        AuditEntry::new(AuditEvent::ExportRequestCancelled)
            .by(by)
            .target("export_request", id)
            .payload(serde_json::json!({
                "export_request_id": id,
                "was": if outcome == Cancelled::Now { "pending" } else { "processing" },
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(outcome))
}

/// Expires up to [`EXPIRE_BATCH`] completed files that are due: each request becomes `expired`,
/// every attempt's file is noted for deletion and the expiry is audited, all in one transaction.
/// Several processes may sweep at once: a row goes to one of them (`SKIP LOCKED` on Postgres; one
/// writer at a time on SQLite), so none is expired or audited twice. Returns the expired ids.
pub async fn expire_due(db: &Db) -> Result<Vec<Uuid>, sqlx::Error> {
    let at = now();
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let mut tx = db.begin().await?;
    let expired: Vec<StoredRequest> = with_tx!(&mut tx, conn => {
        sqlx::query_as(&format!(
            "UPDATE pf_export_requests SET status = 'expired' WHERE status = 'completed' AND id IN (\
               SELECT id FROM pf_export_requests WHERE status = 'completed' AND expires_at <= $1 \
               ORDER BY expires_at LIMIT $2 {lock}) \
             RETURNING {COLUMNS}"
        ))
        .bind(at)
        .bind(EXPIRE_BATCH)
        .fetch_all(conn)
        .await
    })?;
    for stored in &expired {
        deletions::note_in(&mut tx, stored.id(), &stored.every_file_key()).await?;
        audit::record_in(
            &mut tx,
            AuditEntry::new(AuditEvent::ExportRequestExpired)
                .organization(stored.organization_id)
                .target("export_request", stored.id())
                .payload(serde_json::json!({
                    "export_request_id": stored.id(),
                    "expires_at": stored.request.expires_at,
                    "file_size_bytes": stored.request.file_size_bytes,
                })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(expired.iter().map(StoredRequest::id).collect())
}

/// Gives completed files that have no expiry yet (completed before expiry existed) their
/// organisation's retention counted from now. Returns how many.
pub async fn date_undated(db: &Db, default: Duration) -> Result<usize, sqlx::Error> {
    let undated: Vec<(Uuid, Option<i32>)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT r.id, o.export_retention_secs FROM pf_export_requests r \
             JOIN organizations o ON o.id = r.organization_id \
             WHERE r.status = 'completed' AND r.expires_at IS NULL LIMIT 500",
        )
        .fetch_all(pool)
        .await
    })?;
    let at = now();
    for (id, chosen) in &undated {
        let expires = after(at, chosen_or(*chosen, default));
        with_db!(db, pool => {
            sqlx::query("UPDATE pf_export_requests SET expires_at = $2 WHERE id = $1 AND expires_at IS NULL")
                .bind(id)
                .bind(expires)
                .execute(pool)
                .await
                .map(drop)
        })?;
    }
    Ok(undated.len())
}

/// How long the organisation keeps completed files: its choice, or `default`.
pub async fn retention(db: &Db, organization_id: Uuid, default: Duration) -> Result<Retention, sqlx::Error> {
    let chosen: Option<i32> = with_db!(db, pool => {
        sqlx::query_scalar("SELECT export_retention_secs FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_optional(pool)
            .await
    })?
    .flatten();
    Ok(retention_of(chosen, default))
}

/// The retention of an organisation that chose `chosen` seconds (`None`: the server's default).
pub fn retention_of(chosen: Option<i32>, default: Duration) -> Retention {
    Retention {
        secs: chosen_or(chosen, default).as_secs(),
        chosen: chosen.is_some(),
    }
}

/// When a file completed now would expire.
pub async fn expiry_from_now(
    db: &Db,
    organization_id: Uuid,
    default: Duration,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let retention = retention(db, organization_id, default).await?;
    Ok(after(now(), Duration::from_secs(retention.secs)))
}

/// A retention an organisation may choose, in hours, or the sentence saying why not.
pub fn valid_hours(hours: i64) -> Result<u32, String> {
    let (min, max) = (Retention::MIN_HOURS, Retention::MAX_HOURS);
    u32::try_from(hours)
        .ok()
        .filter(|hours| (min..=max).contains(hours))
        .ok_or_else(|| format!("Keep files for {min} to {max} hours (one hour to thirty days)."))
}

/// Sets the organisation's retention to `hours` (checked with [`valid_hours`]) and re-dates its
/// completed files from their completion: a shorter retention expires older files at the next
/// sweep. Audited, as the user `by` (`None`: the operator, from the command line).
pub async fn set_retention(
    db: &Db,
    organization_id: Uuid,
    hours: u32,
    by: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    // At most 720 hours: 2,592,000 seconds, an INTEGER on both databases.
    let secs = hours.min(Retention::MAX_HOURS) as i32 * 3600;
    let mut tx = db.begin().await?;
    with_tx!(&mut tx, conn => {
        sqlx::query("UPDATE organizations SET export_retention_secs = $2 WHERE id = $1")
            .bind(organization_id)
            .bind(secs)
            .execute(conn)
            .await
            .map(drop)
    })?;
    redate(&mut tx, organization_id, Duration::from_secs(secs as u64)).await?;
    let mut entry = AuditEntry::new(AuditEvent::ExportRetentionChanged)
        .organization(organization_id)
        .payload(serde_json::json!({ "retention_secs": secs }));
    if let Some(actor) = by {
        entry = entry.actor(actor);
    }
    audit::record_in(&mut tx, entry).await?;
    tx.commit().await
}

/// Moves each completed file's expiry to its completion plus `retention`.
async fn redate(tx: &mut Tx, organization_id: Uuid, retention: Duration) -> Result<(), sqlx::Error> {
    let completed: Vec<(Uuid, Option<DateTime<Utc>>)> = with_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT id, completed_at FROM pf_export_requests WHERE organization_id = $1 AND status = 'completed'",
        )
        .bind(organization_id)
        .fetch_all(conn)
        .await
    })?;
    for (id, completed_at) in completed {
        let expires = after(completed_at.unwrap_or_else(now), retention);
        with_tx!(tx, conn => {
            sqlx::query("UPDATE pf_export_requests SET expires_at = $2 WHERE id = $1")
                .bind(id)
                .bind(expires)
                .execute(conn)
                .await
                .map(drop)
        })?;
    }
    Ok(())
}

fn chosen_or(chosen: Option<i32>, default: Duration) -> Duration {
    chosen
        .and_then(|secs| u64::try_from(secs).ok())
        .map(Duration::from_secs)
        .unwrap_or(default)
}

fn after(at: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    at + TimeDelta::from_std(wait).unwrap_or(TimeDelta::days(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_is_one_hour_to_thirty_days() {
        assert_eq!(valid_hours(1), Ok(1));
        assert_eq!(valid_hours(720), Ok(720));
        for bad in [0, -5, 721, i64::MAX] {
            assert!(valid_hours(bad).unwrap_err().contains("1 to 720 hours"), "{bad}");
        }
    }
}
