//! The export queue is `pf_export_requests` itself. A worker claims the oldest runnable request
//! atomically and holds it under a lease it keeps renewing; a request whose lease ran out (its
//! worker died) is claimed again, until `max_attempts`. Every write a worker makes afterwards is
//! fenced by `(id, attempt, status = 'processing')`, so a worker that lost its lease changes nothing.
//!
//! An attempt that goes silent (its worker killed, or the database unreachable when it failed, so
//! that no retry could be recorded) is taken over only once its lease has run out *and* the
//! back-off its number earns has passed: every claim and heartbeat moves `run_at` to the lease's
//! end plus that back-off. A lease running out is no shortcut around the back-off.
//!
//! Cancelling a processing request sets `cancel_requested_at`; from then on no outcome but
//! `cancelled` can be recorded for it (every outcome's fence requires it unset), so a cancel and a
//! completion racing each other end in exactly one of the two.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};

use crate::{
    db::{Db, Tx, now, with_db, with_tx},
    exports::stored::{COLUMNS, StoredRequest},
    records::EntityType,
    retry::RetryPolicy,
};

/// A request in a worker's hands: the stored request, as claimed (its `attempt` is this one).
pub type Claim = StoredRequest;

/// What a finished export records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub storage_key: String,
    pub file_name: String,
    pub row_count: i64,
    pub file_size_bytes: i64,
    pub execution_time_ms: i64,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub row_counts: BTreeMap<EntityType, u64>,
    pub snapshot_at: DateTime<Utc>,
    /// When it completed (the ledger of disclosures records the same instant).
    pub completed_at: DateTime<Utc>,
    /// When the file is to be deleted (the organisation's retention from now).
    pub expires_at: DateTime<Utc>,
}

const RUNNABLE: &str = "(status = 'pending' AND run_at <= $3) \
                        OR (status = 'processing' AND lease_expires_at < $3 AND run_at <= $3 \
                            AND attempt < max_attempts AND cancel_requested_at IS NULL)";
/// Which runnable request goes first: one of the organisation with the fewest exports being
/// produced now; among equals, the organisation whose last export started longest ago (never
/// first), so that even one worker slot takes turns; then the oldest request. An organisation
/// that queued hundreds cannot hold back another's one for more than a slot.
const FAIR_ORDER: &str = "(SELECT COUNT(*) FROM pf_export_requests busy \
                            WHERE busy.organization_id = r.organization_id AND busy.status = 'processing' \
                            AND busy.lease_expires_at >= $3), \
                          (SELECT MAX(last.started_at) FROM pf_export_requests last \
                            WHERE last.organization_id = r.organization_id) NULLS FIRST, \
                          r.run_at, r.requested_at, r.id";
const CLAIMED: &str = "status = 'processing', attempt = attempt + 1, locked_by = $1, lease_expires_at = $2, \
                       started_at = $3, progress = 0, error = NULL";

/// The Postgres channel a new request is announced on (workers LISTEN; polling backs it up).
pub const CHANNEL: &str = "pf_export_requests";

/// `at` plus `wait` (a wait too long for a timestamp counts as five minutes).
fn after(at: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    at + TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(5))
}

/// Claims the next runnable request for `worker` in the fair order ([`FAIR_ORDER`]), or `None`
/// when there is nothing to do. The
/// claim's attempt may be taken over once its lease has run out plus `retry`'s back-off.
pub async fn claim(
    db: &Db,
    worker: &str,
    lease: Duration,
    retry: &RetryPolicy,
) -> Result<Option<Claim>, sqlx::Error> {
    let claim = claim_next(db, worker, lease).await?;
    if let Some(claim) = &claim {
        // Sets when the attempt may be taken over; if this fails the lease still holds, and the
        // first heartbeat tries again.
        if let Err(error) = heartbeat(db, claim, lease, retry).await {
            tracing::warn!(export_request_id = %claim.id(), error = %crate::error::LogSafe(&error), "cannot record the claim's back-off yet");
        }
    }
    Ok(claim)
}

async fn claim_next(db: &Db, worker: &str, lease: Duration) -> Result<Option<Claim>, sqlx::Error> {
    let at = now();
    let expires = after(at, lease);
    match db {
        // SQLite has one writer at a time: a single UPDATE … WHERE id = (SELECT … LIMIT 1) is atomic.
        Db::Sqlite(pool) => {
            sqlx::query_as(&format!(
                "UPDATE pf_export_requests SET {CLAIMED} WHERE id = (\
                   SELECT r.id FROM pf_export_requests r WHERE {RUNNABLE} \
                   ORDER BY {FAIR_ORDER} LIMIT 1) \
                 RETURNING {COLUMNS}"
            ))
            .bind(worker)
            .bind(expires)
            .bind(at)
            .fetch_optional(pool)
            .await
        }
        // Postgres: concurrent workers skip rows another has locked instead of waiting on them.
        Db::Postgres(pool) => {
            sqlx::query_as(&format!(
                "WITH next AS (\
                   SELECT r.id FROM pf_export_requests r WHERE {RUNNABLE} \
                   ORDER BY {FAIR_ORDER} LIMIT 1 FOR UPDATE OF r SKIP LOCKED) \
                 UPDATE pf_export_requests SET {CLAIMED} FROM next WHERE pf_export_requests.id = next.id \
                 RETURNING {}",
                COLUMNS
                    .split(", ")
                    .map(|column| format!("pf_export_requests.{column}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .bind(worker)
            .bind(expires)
            .bind(at)
            .fetch_optional(pool)
            .await
        }
    }
}

/// Where a fenced update runs: straight on the pool, or inside a transaction (so that, say, a
/// completion and its audit entry commit together).
pub enum On<'a> {
    Pool(&'a Db),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Db> for On<'a> {
    fn from(db: &'a Db) -> Self {
        On::Pool(db)
    }
}

impl<'a> From<&'a mut Tx> for On<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        On::Tx(tx)
    }
}

/// Which fenced updates apply once someone asked to cancel the request.
#[derive(Clone, Copy)]
enum Cancelling {
    /// Keeping the lease and reporting progress: until the worker stops.
    Allowed,
    /// An outcome other than `cancelled`: never.
    Refused,
    /// Recording `cancelled`: only then.
    Required,
}

/// Runs a fenced update: it applies only while `claim` still holds the request.
async fn fenced(
    on: On<'_>,
    claim: &Claim,
    cancelling: Cancelling,
    set: &str,
    bind: impl FnOnce(Fence) -> Fence,
) -> Result<bool, sqlx::Error> {
    let fence = bind(Fence::default());
    let cancel = match cancelling {
        Cancelling::Allowed => "",
        Cancelling::Refused => " AND cancel_requested_at IS NULL",
        Cancelling::Required => " AND cancel_requested_at IS NOT NULL",
    };
    let sql = format!(
        "UPDATE pf_export_requests SET {set} WHERE id = $1 AND attempt = $2 AND status = 'processing'{cancel}"
    );
    macro_rules! run {
        ($executor:expr) => {{
            let mut query = sqlx::query(&sql).bind(claim.id()).bind(claim.attempt);
            for value in &fence.values {
                query = match value {
                    FenceValue::Text(text) => query.bind(text.clone()),
                    FenceValue::Int(int) => query.bind(*int),
                    FenceValue::Instant(at) => query.bind(*at),
                    FenceValue::Json(value) => query.bind(sqlx::types::Json(value.clone())),
                };
            }
            query.execute($executor).await.map(|done| done.rows_affected())
        }};
    }
    let affected = match on {
        On::Pool(db) => with_db!(db, pool => run!(pool)),
        On::Tx(tx) => with_tx!(tx, conn => run!(conn)),
    }?;
    Ok(affected == 1)
}

/// Values bound after `$1 = id` and `$2 = attempt`, as `$3`, `$4`, ….
#[derive(Default)]
struct Fence {
    values: Vec<FenceValue>,
}

enum FenceValue {
    Text(String),
    Int(i64),
    Instant(DateTime<Utc>),
    Json(serde_json::Value),
}

impl Fence {
    fn text(mut self, value: impl Into<String>) -> Self {
        self.values.push(FenceValue::Text(value.into()));
        self
    }
    fn int(mut self, value: i64) -> Self {
        self.values.push(FenceValue::Int(value));
        self
    }
    fn instant(mut self, value: DateTime<Utc>) -> Self {
        self.values.push(FenceValue::Instant(value));
        self
    }
    fn json(mut self, value: serde_json::Value) -> Self {
        self.values.push(FenceValue::Json(value));
        self
    }
}

/// Extends the lease, and with it the time another worker may take the attempt over (the
/// lease's end plus the back-off of this attempt). `false`: the lease was lost (stop working on it).
pub async fn heartbeat(
    db: &Db,
    claim: &Claim,
    lease: Duration,
    retry: &RetryPolicy,
) -> Result<bool, sqlx::Error> {
    let expires = after(now(), lease);
    let takeover = after(expires, retry.delay(claim.attempt));
    fenced(
        db.into(),
        claim,
        Cancelling::Allowed,
        "lease_expires_at = $3, run_at = $4",
        |f| f.instant(expires).instant(takeover),
    )
    .await
}

/// Records progress (0–100).
pub async fn progress(db: &Db, claim: &Claim, percent: i64) -> Result<bool, sqlx::Error> {
    fenced(db.into(), claim, Cancelling::Allowed, "progress = $3", |f| {
        f.int(percent.clamp(0, 100))
    })
    .await
}

/// Marks the request completed. `false`: the lease was lost, or a cancel came first, and nothing
/// was recorded.
pub async fn complete<'a>(
    on: impl Into<On<'a>>,
    claim: &Claim,
    done: &Completion,
) -> Result<bool, sqlx::Error> {
    fenced(
        on.into(),
        claim,
        Cancelling::Refused,
        "status = 'completed', progress = 100, storage_key = $3, file_name = $4, row_count = $5, \
         file_size_bytes = $6, execution_time_ms = $7, completed_at = $8, sha256 = $9, row_counts = $10, \
         snapshot_at = $11, expires_at = $12, locked_by = NULL, lease_expires_at = NULL",
        |f| {
            f.text(done.storage_key.clone())
                .text(done.file_name.clone())
                .int(done.row_count)
                .int(done.file_size_bytes)
                .int(done.execution_time_ms)
                .instant(done.completed_at)
                .text(done.sha256.clone())
                .json(serde_json::json!(done.row_counts))
                .instant(done.snapshot_at)
                .instant(done.expires_at)
        },
    )
    .await
}

/// Marks the request failed with a message safe to show the user.
pub async fn fail<'a>(on: impl Into<On<'a>>, claim: &Claim, message: &str) -> Result<bool, sqlx::Error> {
    fenced(
        on.into(),
        claim,
        Cancelling::Refused,
        "status = 'failed', error = $3, completed_at = $4, locked_by = NULL, lease_expires_at = NULL",
        |f| f.text(message).instant(now()),
    )
    .await
}

/// Hands the request back untouched (graceful shutdown): pending again. `attempt` only ever
/// grows (a reused number would let the releasing worker's late writes pass the next holder's
/// fence), so the budget grows by one instead: a shutdown costs the request no attempt.
pub async fn release(db: &Db, claim: &Claim) -> Result<bool, sqlx::Error> {
    fenced(
        db.into(),
        claim,
        Cancelling::Refused,
        "status = 'pending', max_attempts = max_attempts + 1, run_at = $3, locked_by = NULL, \
         lease_expires_at = NULL, progress = 0",
        |f| f.instant(now()),
    )
    .await
}

/// Tells idle workers of every process that a request is waiting (Postgres NOTIFY; a no-op on
/// SQLite, whose workers share the process or poll). A lost notification only delays: workers poll.
pub async fn announce(db: &Db) -> Result<(), sqlx::Error> {
    if let Db::Postgres(pool) = db {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Puts a request that failed for a passing reason back in the queue, to run again once `wait`
/// has passed (the attempt it used counts).
pub async fn retry(db: &Db, claim: &Claim, wait: Duration) -> Result<bool, sqlx::Error> {
    let run_at = after(now(), wait);
    fenced(
        db.into(),
        claim,
        Cancelling::Refused,
        "status = 'pending', run_at = $3, locked_by = NULL, lease_expires_at = NULL, progress = 0",
        |f| f.instant(run_at),
    )
    .await
}

/// Fails requests whose last allowed attempt lost its lease, inside `tx` (so their audit entries
/// commit with them); returns them.
pub async fn fail_exhausted(tx: &mut Tx, message: &str) -> Result<Vec<Claim>, sqlx::Error> {
    let at = now();
    with_tx!(tx, conn => {
        sqlx::query_as(&format!(
            "UPDATE pf_export_requests SET status = 'failed', error = $1, completed_at = $2, \
             locked_by = NULL, lease_expires_at = NULL \
             WHERE status = 'processing' AND lease_expires_at < $2 AND attempt >= max_attempts \
             AND cancel_requested_at IS NULL \
             RETURNING {COLUMNS}"
        ))
        .bind(message)
        .bind(at)
        .fetch_all(conn)
        .await
    })
}

/// What a worker's tick finds of the request it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Still this attempt's, nobody asked to cancel.
    Held,
    /// Still this attempt's, and someone asked to cancel it: stop.
    Cancelling,
    /// No longer this attempt's (taken over, finished elsewhere, or deleted).
    Lost,
}

/// Looks at the claimed request: held, being cancelled, or lost.
pub async fn watch(db: &Db, claim: &Claim) -> Result<Watch, sqlx::Error> {
    let found: Option<(bool,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT cancel_requested_at IS NOT NULL FROM pf_export_requests \
             WHERE id = $1 AND attempt = $2 AND status = 'processing'",
        )
        .bind(claim.id())
        .bind(claim.attempt)
        .fetch_optional(pool)
        .await
    })?;
    Ok(match found {
        None => Watch::Lost,
        Some((true,)) => Watch::Cancelling,
        Some((false,)) => Watch::Held,
    })
}

/// Records, inside `tx`, that the attempt stopped because someone cancelled the request. `false`:
/// not this attempt's, or nobody asked to cancel it.
pub async fn finish_cancelled(tx: &mut Tx, claim: &Claim) -> Result<bool, sqlx::Error> {
    fenced(
        tx.into(),
        claim,
        Cancelling::Required,
        "status = 'cancelled', completed_at = $3, progress = 0, locked_by = NULL, lease_expires_at = NULL",
        |f| f.instant(now()),
    )
    .await
}

/// Cancels, inside `tx`, requests whose cancel was asked while a worker produced them and whose
/// worker then died (its lease ran out); returns them.
pub async fn cancel_abandoned(tx: &mut Tx) -> Result<Vec<Claim>, sqlx::Error> {
    let at = now();
    with_tx!(tx, conn => {
        sqlx::query_as(&format!(
            "UPDATE pf_export_requests SET status = 'cancelled', completed_at = $1, progress = 0, \
             locked_by = NULL, lease_expires_at = NULL \
             WHERE status = 'processing' AND lease_expires_at < $1 AND cancel_requested_at IS NOT NULL \
             RETURNING {COLUMNS}"
        ))
        .bind(at)
        .fetch_all(conn)
        .await
    })
}
