//! The export worker: claims requests from the queue, keeps their leases alive while the engine
//! produces their files, and records each outcome (completed, failed or cancelled; audited). Beside
//! the queue it sweeps: files due to expire, and objects noted for deletion. It runs inside
//! `serve` or alone as `data-exports worker`; on SIGTERM it stops claiming, lets running exports
//! finish within the grace period and hands back the rest.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::{
    audit::{self, AuditEntry, AuditEvent},
    config::WorkerSettings,
    db::Db,
    disclosures::ledger,
    engine::{self, Cancel, CancelReason, JobError, Plan, Produced, Progress, Settings, encode},
    error::LogSafe,
    exports::{
        deletions, lifecycle,
        queue::{self, Claim, Completion, Watch},
        repo, stored,
    },
    metrics::METRICS,
    state::AppState,
    storage::{ObjectKey, ObjectStore},
};

/// The user-facing message of a request whose every attempt lost its worker.
const ABANDONED: &str = "The export was interrupted too many times. Request it again.";

/// How one claimed request ended.
#[derive(Debug)]
pub enum Outcome {
    Completed(Produced),
    /// Failed for good, with the message the user sees.
    Failed(&'static str),
    /// Failed for a passing reason; queued again.
    Retrying,
    /// Handed back untouched (shutdown).
    Released,
    /// Someone cancelled it; its files are deleted.
    Cancelled,
    /// Another worker holds it now; nothing was recorded.
    LeaseLost,
}

/// What a worker works with: the database, the store, its settings and the wake-up rung when a
/// request is queued in this process. Nothing of the web app.
#[derive(Clone)]
pub struct WorkerContext {
    pub db: Db,
    pub storage: ObjectStore,
    pub settings: Arc<WorkerSettings>,
    pub wake: Arc<tokio::sync::Notify>,
}

impl WorkerContext {
    /// The worker's share of the application's state.
    pub fn of(state: &AppState) -> WorkerContext {
        WorkerContext {
            db: state.db.clone(),
            storage: state.storage.clone(),
            settings: Arc::new(state.config.worker.clone()),
            wake: state.new_requests.clone(),
        }
    }
}

/// A worker: one process's share of the queue.
#[derive(Clone)]
pub struct Worker {
    ctx: WorkerContext,
    id: String,
}

impl Worker {
    pub fn new(ctx: WorkerContext) -> Worker {
        let id = format!(
            "pid{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Worker { ctx, id }
    }

    /// Works until `shutdown` fires, with the configured concurrency, then returns once every
    /// running export has finished or been handed back.
    pub async fn run(self, shutdown: CancellationToken) {
        let settings = &self.ctx.settings;
        tracing::info!(worker = %self.id, concurrency = settings.concurrency, "export worker started");
        let listener = tokio::spawn(listen(self.ctx.clone(), shutdown.clone()));
        let sweeper = tokio::spawn(self.clone().sweep_deletions(shutdown.clone()));
        let slots: Vec<_> = (0..settings.concurrency)
            .map(|_| tokio::spawn(self.clone().slot(shutdown.clone())))
            .collect();
        for slot in slots {
            let _ = slot.await;
        }
        listener.abort();
        let _ = sweeper.await;
        tracing::info!(worker = %self.id, "export worker stopped");
    }

    /// One export at a time, until shutdown.
    async fn slot(self, shutdown: CancellationToken) {
        let poll = self.ctx.settings.poll_interval;
        while !shutdown.is_cancelled() {
            match self.process_next(&shutdown).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot reach the queue")
                }
            }
            if let Err(error) = self.fail_abandoned().await {
                tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot sweep abandoned requests");
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = self.ctx.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claims the oldest runnable request and sees it through; `None` when there was none.
    pub async fn process_next(&self, shutdown: &CancellationToken) -> Result<Option<Outcome>, sqlx::Error> {
        let settings = &self.ctx.settings;
        let Some(claim) = queue::claim(&self.ctx.db, &self.id, settings.lease, &settings.retry).await? else {
            return Ok(None);
        };
        let started = Instant::now();
        tracing::info!(worker = %self.id, export_request_id = %claim.id(), attempt = claim.attempt, "export started");
        let result = self.produce(&claim, shutdown).await;
        let outcome = self.settle(&claim, result, started).await?;
        tracing::info!(
            worker = %self.id,
            export_request_id = %claim.id(),
            outcome = ?OutcomeKind::from(&outcome),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "export finished"
        );
        Ok(Some(outcome))
    }

    /// Runs the engine with a heartbeat beside it, which stops it if the lease is lost or the
    /// shutdown's grace period runs out.
    async fn produce(&self, claim: &Claim, shutdown: &CancellationToken) -> Result<Produced, JobError> {
        let config = &self.ctx.settings;
        let plan = Plan::of(claim);
        let progress = Progress::default();
        let cancel = Cancel::default();
        let done = CancellationToken::new();
        let job = async {
            let result = engine::produce(
                &self.ctx.db,
                &self.ctx.storage,
                &plan,
                settings(config),
                &progress,
                &cancel,
            )
            .await;
            done.cancel();
            result
        };
        let watch = async {
            tokio::select! {
                _ = done.cancelled() => {}
                _ = keep_alive(&self.ctx.db, claim, config, &progress, &cancel) => {}
                _ = async {
                    shutdown.cancelled().await;
                    tokio::time::sleep(config.shutdown_grace).await;
                } => {
                    tracing::warn!(export_request_id = %claim.id(), "grace period over; handing the export back");
                    cancel.cancel(CancelReason::Shutdown);
                }
            }
        };
        let (result, ()) = tokio::join!(job, watch);
        result
    }

    /// Records how the attempt ended (fenced: a worker that lost its lease records nothing). A
    /// completion or failure commits together with its audit entry and the notes of the files it
    /// makes garbage, which are then deleted at once (or by the sweep, should the store be down).
    async fn settle(
        &self,
        claim: &Claim,
        result: Result<Produced, JobError>,
        started: Instant,
    ) -> Result<Outcome, sqlx::Error> {
        let db = &self.ctx.db;
        let retry = &self.ctx.settings.retry;
        match result {
            Ok(produced) => {
                let execution_time_ms = started.elapsed().as_millis() as i64;
                let expires_at =
                    lifecycle::expiry_from_now(db, claim.organization_id, self.ctx.settings.retention)
                        .await?;
                let completion = Completion {
                    storage_key: produced.key.as_str().to_owned(),
                    file_name: self.download_name(claim).await?,
                    row_count: produced.row_count as i64,
                    file_size_bytes: produced.size as i64,
                    execution_time_ms,
                    sha256: produced.sha256.clone(),
                    row_counts: produced.row_counts.clone(),
                    snapshot_at: produced.snapshot_at,
                    completed_at: crate::db::now(),
                    expires_at,
                };
                let mut tx = db.begin().await?;
                if !queue::complete(&mut tx, claim, &completion).await? {
                    tx.rollback().await?;
                    // Cancelled while finishing (the cancel won: the file goes with the rest), or
                    // replaced (this attempt's file is nobody's).
                    let outcome = self.cancelled_or_lost(claim).await?;
                    if matches!(outcome, Outcome::LeaseLost) {
                        self.discard(claim, &[produced.key]).await;
                    }
                    return Ok(outcome);
                }
                // An earlier attempt killed between its upload and its record left a file (or,
                // fenced out mid-upload, an upload).
                deletions::note_in(&mut tx, claim.id(), &claim.file_keys(1..claim.attempt)).await?;
                // Which clients it carried, exact and only for the attempt that won.
                if let Some(clients) = &produced.clients {
                    let days = i64::from(self.ctx.settings.disclosure_retention_days);
                    let keep_until = completion.completed_at + chrono::TimeDelta::days(days);
                    ledger::record_in(
                        &mut tx,
                        Plan::of(claim).disclosure(),
                        clients,
                        completion.completed_at,
                        keep_until,
                    )
                    .await?;
                }
                audit::record_in(&mut tx, completed_entry(claim, &produced, execution_time_ms)).await?;
                tx.commit().await?;
                METRICS.completed(produced.row_count, produced.size, started.elapsed().as_secs_f64());
                self.sweep_request(claim.id()).await;
                Ok(Outcome::Completed(produced))
            }
            Err(JobError::Cancelled(CancelReason::LeaseLost)) => Ok(Outcome::LeaseLost),
            Err(JobError::Cancelled(CancelReason::Shutdown)) => {
                if queue::release(db, claim).await? {
                    return Ok(Outcome::Released);
                }
                // Cancelled meanwhile: end it now rather than hand it back.
                self.cancelled_or_lost(claim).await
            }
            Err(JobError::Cancelled(CancelReason::Cancelled)) => self.cancelled_or_lost(claim).await,
            Err(error) => {
                // Logged for operators; the text names stages and codes, never row values.
                tracing::error!(export_request_id = %claim.id(), attempt = claim.attempt, %error, "export failed");
                if error.is_transient() && claim.attempt < claim.max_attempts {
                    let wait = retry.delay(claim.attempt);
                    // If the database is down now, the lease runs out instead and the back-off
                    // the last heartbeat recorded holds (see `queue`).
                    if !queue::retry(db, claim, wait).await? {
                        return self.cancelled_or_lost(claim).await;
                    }
                    METRICS.retried();
                    tracing::info!(
                        export_request_id = %claim.id(),
                        attempt = claim.attempt,
                        backoff_ms = wait.as_millis() as u64,
                        "retry scheduled"
                    );
                    return Ok(Outcome::Retrying);
                }
                let message = error.user_message();
                let mut tx = db.begin().await?;
                if !queue::fail(&mut tx, claim, message).await? {
                    tx.rollback().await?;
                    return self.cancelled_or_lost(claim).await;
                }
                deletions::note_in(&mut tx, claim.id(), &claim.file_keys(1..claim.attempt + 1)).await?;
                audit::record_in(&mut tx, failed_entry(claim, "error")).await?;
                tx.commit().await?;
                METRICS.failed();
                self.sweep_request(claim.id()).await;
                Ok(Outcome::Failed(message))
            }
        }
    }

    /// After an outcome's fence refused it: records that this attempt stopped because the
    /// request was cancelled (the cancel itself is audited where it was asked), with the notes of
    /// every attempt's files and open uploads, then deletes them. `LeaseLost` when nobody
    /// cancelled it (it is simply not this attempt's any more).
    async fn cancelled_or_lost(&self, claim: &Claim) -> Result<Outcome, sqlx::Error> {
        let mut tx = self.ctx.db.begin().await?;
        if !queue::finish_cancelled(&mut tx, claim).await? {
            tx.rollback().await?;
            return Ok(Outcome::LeaseLost);
        }
        deletions::note_in(&mut tx, claim.id(), &claim.file_keys(1..claim.attempt + 1)).await?;
        tx.commit().await?;
        METRICS.cancelled();
        self.sweep_request(claim.id()).await;
        Ok(Outcome::Cancelled)
    }

    /// The name the file downloads as.
    async fn download_name(&self, claim: &Claim) -> Result<String, sqlx::Error> {
        let slug = repo::organization_slug(&self.ctx.db, claim.organization_id).await?;
        // Dated by the organisation's calendar, like the range it may carry.
        let today = Utc::now().with_timezone(&claim.time_zone).date_naive();
        Ok(stored::download_name(&slug, &claim.spec, today))
    }

    /// Fails requests whose last attempt lost its worker, and cancels those whose worker died
    /// while being cancelled; audited (failures) and with the notes of every attempt's files in
    /// the same transaction, then deletes those files.
    async fn fail_abandoned(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.ctx.db.begin().await?;
        let abandoned = queue::fail_exhausted(&mut tx, ABANDONED).await?;
        for claim in &abandoned {
            deletions::note_in(&mut tx, claim.id(), &claim.file_keys(1..claim.attempt + 1)).await?;
            audit::record_in(&mut tx, failed_entry(claim, "abandoned")).await?;
        }
        let cancelled = queue::cancel_abandoned(&mut tx).await?;
        for claim in &cancelled {
            deletions::note_in(&mut tx, claim.id(), &claim.file_keys(1..claim.attempt + 1)).await?;
        }
        tx.commit().await?;
        for claim in &abandoned {
            METRICS.failed();
            self.sweep_request(claim.id()).await;
        }
        for claim in &cancelled {
            METRICS.cancelled();
            self.sweep_request(claim.id()).await;
        }
        Ok(())
    }

    /// Expires completed files that are due (and dates those completed before expiry existed),
    /// then deletes their objects. Every worker process sweeps; each file goes to one.
    async fn expire_due(&self) {
        if let Err(error) = lifecycle::date_undated(&self.ctx.db, self.ctx.settings.retention).await {
            tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot date completed files");
        }
        loop {
            match lifecycle::expire_due(&self.ctx.db).await {
                Ok(expired) => {
                    for id in &expired {
                        METRICS.expired();
                        tracing::info!(export_request_id = %id, "export file expired");
                        self.sweep_request(*id).await;
                    }
                    if expired.len() < lifecycle::EXPIRE_BATCH as usize {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot expire due files");
                    return;
                }
            }
        }
    }

    /// Notes files no outcome accounts for (an attempt fenced out after its upload), then
    /// deletes them. Should the database be down too, tries the store directly.
    async fn discard(&self, claim: &Claim, keys: &[ObjectKey]) {
        match deletions::note(&self.ctx.db, claim.id(), keys).await {
            Ok(()) => self.sweep_request(claim.id()).await,
            Err(error) => {
                tracing::warn!(export_request_id = %claim.id(), error = %LogSafe(&error), "cannot note a fenced-out attempt's file; deleting it directly");
                for key in keys {
                    if let Err(error) = self.ctx.storage.delete(key).await {
                        tracing::error!(export_request_id = %claim.id(), %error, "cannot delete a fenced-out attempt's file");
                    }
                }
            }
        }
    }

    /// Deletes what is noted for request `id` now; what the store refuses stays for the sweep.
    async fn sweep_request(&self, id: uuid::Uuid) {
        let retry = &self.ctx.settings.retry;
        if let Err(error) = deletions::sweep(&self.ctx.db, &self.ctx.storage, retry, Some(id)).await {
            tracing::warn!(export_request_id = %id, error = %LogSafe(&error), "cannot sweep an export's files now");
        }
    }

    /// Every poll interval until shutdown: expires due files, forgets disclosures kept long
    /// enough, adopts uploads opened by attempts
    /// that outlived their request, and deletes whatever is due among the noted objects. Runs in
    /// every worker process; each file and note is claimed by one sweeper at a time.
    async fn sweep_deletions(self, shutdown: CancellationToken) {
        let settings = &self.ctx.settings;
        loop {
            self.expire_due().await;
            match ledger::sweep(&self.ctx.db).await {
                Ok(0) => {}
                Ok(forgotten) => {
                    tracing::info!(worker = %self.id, forgotten, "disclosures kept long enough forgotten")
                }
                Err(error) => {
                    tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot sweep the ledger of disclosures")
                }
            }
            // An attempt outlives its lease by a heartbeat at most before it notices.
            if let Err(error) = deletions::adopt_orphaned_uploads(&self.ctx.db, settings.lease * 2).await {
                tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot adopt orphaned uploads");
            }
            loop {
                match deletions::sweep(&self.ctx.db, &self.ctx.storage, &settings.retry, None).await {
                    Ok(swept) if swept.deleted + swept.deferred == deletions::SWEEP_BATCH as usize => {
                        continue;
                    }
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(worker = %self.id, error = %LogSafe(&error), "cannot sweep noted deletions");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
    }
}

/// The audit entry of a completion: ids, settings and counts, never PHI.
fn completed_entry(claim: &Claim, produced: &Produced, execution_time_ms: i64) -> AuditEntry {
    let entry = AuditEntry::new(AuditEvent::ExportRequestCompleted)
        .organization(claim.organization_id)
        .target("export_request", claim.id())
        .payload(serde_json::json!({
            "organization_id": claim.organization_id,
            "export_request_id": claim.id(),
            "export_type": claim.request.export_type.key(),
            "export_format": claim.request.export_format.key(),
            "entity_types": claim.request.entity_types.iter().map(|entity| entity.key()).collect::<Vec<_>>(),
            "row_count": produced.row_count,
            "file_size_bytes": produced.size,
            "execution_time_ms": execution_time_ms,
            "pii_phi_filtered": claim.request.export_type.deidentifies(),
            "scope": claim.spec.scope_payload(claim.time_zone.name()),
        }));
    attributed(entry, claim)
}

/// The audit entry of a failure for good.
fn failed_entry(claim: &Claim, reason: &str) -> AuditEntry {
    let entry = AuditEntry::new(AuditEvent::ExportRequestFailed)
        .organization(claim.organization_id)
        .target("export_request", claim.id())
        .payload(serde_json::json!({
            "export_request_id": claim.id(),
            "attempt": claim.attempt,
            "reason": reason,
        }));
    attributed(entry, claim)
}

/// Attributed to whoever requested the export (if they still exist).
fn attributed(entry: AuditEntry, claim: &Claim) -> AuditEntry {
    match claim.requested_by {
        Some(actor) => entry.actor(actor),
        None => entry,
    }
}

/// The outcome without its payload, for logs.
#[derive(Debug)]
enum OutcomeKind {
    Completed,
    Failed,
    Retrying,
    Released,
    Cancelled,
    LeaseLost,
}

impl From<&Outcome> for OutcomeKind {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Completed(_) => OutcomeKind::Completed,
            Outcome::Failed(_) => OutcomeKind::Failed,
            Outcome::Retrying => OutcomeKind::Retrying,
            Outcome::Released => OutcomeKind::Released,
            Outcome::Cancelled => OutcomeKind::Cancelled,
            Outcome::LeaseLost => OutcomeKind::LeaseLost,
        }
    }
}

/// Renews the lease (and with it the takeover time) every third of it, reports progress and
/// looks for a cancel (at most once a second each) until the lease is lost or the request is
/// cancelled, either of which cancels the job. Never returns otherwise.
async fn keep_alive(db: &Db, claim: &Claim, settings: &WorkerSettings, progress: &Progress, cancel: &Cancel) {
    let lease = settings.lease;
    let tick = (lease / 4).min(Duration::from_secs(1));
    let renew_every = lease / 3;
    let mut renewed = Instant::now();
    let mut reported = 0;
    loop {
        tokio::time::sleep(tick).await;
        match queue::watch(db, claim).await {
            Ok(Watch::Cancelling) => {
                tracing::info!(export_request_id = %claim.id(), "cancelled; stopping this attempt");
                cancel.cancel(CancelReason::Cancelled);
                return std::future::pending().await;
            }
            // The fenced writes below say so too, and decide.
            Ok(Watch::Held | Watch::Lost) => {}
            Err(error) => {
                tracing::warn!(export_request_id = %claim.id(), error = %LogSafe(&error), "cannot look for a cancel")
            }
        }
        let percent = progress.percent();
        let mut held = Ok(true);
        if percent != reported {
            held = queue::progress(db, claim, percent).await;
            reported = percent;
        }
        if renewed.elapsed() >= renew_every && matches!(held, Ok(true)) {
            held = queue::heartbeat(db, claim, lease, &settings.retry).await;
            if matches!(held, Ok(true)) {
                renewed = Instant::now();
            }
        }
        match held {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(export_request_id = %claim.id(), "lease lost; abandoning this attempt");
                cancel.cancel(CancelReason::LeaseLost);
                return std::future::pending().await;
            }
            // The lease may still be ours: try again next tick (the fence decides in the end).
            Err(error) => {
                tracing::warn!(export_request_id = %claim.id(), error = %LogSafe(&error), "heartbeat failed")
            }
        }
    }
}

/// Postgres: LISTENs for new requests and wakes this process's idle slots. Polling continues
/// regardless, so a dropped connection only delays.
async fn listen(ctx: WorkerContext, shutdown: CancellationToken) {
    let Db::Postgres(pool) = &ctx.db else {
        return;
    };
    while !shutdown.is_cancelled() {
        let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %LogSafe(&error), "cannot LISTEN for new requests; polling only");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(queue::CHANNEL).await {
            tracing::warn!(error = %LogSafe(&error), "cannot LISTEN for new requests; polling only");
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                notification = listener.recv() => match notification {
                    Ok(_) => ctx.wake.notify_waiters(),
                    Err(error) => {
                        tracing::warn!(error = %LogSafe(&error), "LISTEN connection lost; reconnecting");
                        break;
                    }
                },
            }
        }
    }
}

/// The worker's engine settings, kept in one place for the bench command too.
pub fn settings(worker: &WorkerSettings) -> Settings {
    Settings {
        batch_rows: worker.batch_rows,
        rows_per_second: std::num::NonZeroU32::new(worker.rows_per_second),
        options: encode::Options {
            csv_bom: worker.csv_bom,
        },
    }
}
