//! Prometheus metrics: this process's export counters and durations (recorded by the worker) and,
//! at scrape time, the queue depth by status and the objects still noted for deletion. Counts
//! only: no organisation, user or record ever appears in a label.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::{
    db::{Db, with_db},
    exports::model::ExportStatus,
};

/// Upper bounds (seconds) of the export-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The process's export counters.
pub struct Metrics {
    completed: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    cancelled: AtomicU64,
    expired: AtomicU64,
    rows: AtomicU64,
    bytes: AtomicU64,
    /// Exports per bucket (the first whose bound their duration fits), then the +Inf bucket;
    /// made cumulative when rendered.
    duration_buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_micros_sum: AtomicU64,
}

/// The one registry of this process.
pub static METRICS: Metrics = Metrics {
    completed: AtomicU64::new(0),
    failed: AtomicU64::new(0),
    retried: AtomicU64::new(0),
    cancelled: AtomicU64::new(0),
    expired: AtomicU64::new(0),
    rows: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    duration_buckets: [const { AtomicU64::new(0) }; DURATION_BUCKETS.len() + 1],
    duration_micros_sum: AtomicU64::new(0),
};

impl Metrics {
    /// An export this process completed.
    pub fn completed(&self, rows: u64, bytes: u64, seconds: f64) {
        self.completed.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.duration_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.duration_micros_sum
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// An export this process failed for good.
    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt that failed for a passing reason and was queued again.
    pub fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// A request this process's worker stopped because someone cancelled it.
    pub fn cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// A completed file this process's sweep expired.
    pub fn expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition: this process's counters and the queue's depth.
    pub async fn render(&self, db: &Db) -> Result<String, sqlx::Error> {
        let depth: Vec<(String, i64)> = with_db!(db, pool => {
            sqlx::query_as("SELECT status, COUNT(*) FROM pf_export_requests GROUP BY status")
                .fetch_all(pool)
                .await
        })?;
        let deletions: i64 = with_db!(db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM pf_object_deletions")
                .fetch_one(pool)
                .await
        })?;
        let mut out = String::new();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        out.push_str("# HELP exports_queue_depth Export requests by status, all organisations.\n");
        out.push_str("# TYPE exports_queue_depth gauge\n");
        for status in ExportStatus::ALL.map(ExportStatus::key) {
            let count = depth.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "exports_queue_depth{{status=\"{status}\"}} {count}");
        }
        out.push_str(
            "# HELP exports_object_deletions_pending Objects noted for deletion the store has not yet confirmed gone.\n",
        );
        out.push_str("# TYPE exports_object_deletions_pending gauge\n");
        let _ = writeln!(out, "exports_object_deletions_pending {deletions}");
        for (name, help, counter) in [
            (
                "exports_completed_total",
                "Exports this process completed.",
                &self.completed,
            ),
            (
                "exports_failed_total",
                "Exports this process failed for good.",
                &self.failed,
            ),
            (
                "exports_retried_total",
                "Attempts that failed for a passing reason and were queued again.",
                &self.retried,
            ),
            (
                "exports_cancelled_total",
                "Exports this process's worker stopped because they were cancelled.",
                &self.cancelled,
            ),
            (
                "exports_expired_total",
                "Completed files this process's sweep expired (and deleted).",
                &self.expired,
            ),
            (
                "exports_rows_total",
                "Rows written into completed exports.",
                &self.rows,
            ),
            (
                "exports_bytes_total",
                "Bytes of completed export files.",
                &self.bytes,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                load(counter)
            );
        }
        out.push_str("# HELP exports_duration_seconds Time from claim to completion.\n");
        out.push_str("# TYPE exports_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (index, counter) in self.duration_buckets.iter().enumerate() {
            cumulative += load(counter);
            let bound = DURATION_BUCKETS
                .get(index)
                .map_or_else(|| "+Inf".to_owned(), |bound| bound.to_string());
            let _ = writeln!(
                out,
                "exports_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "exports_duration_seconds_sum {}\nexports_duration_seconds_count {cumulative}",
            load(&self.duration_micros_sum) as f64 / 1e6
        );
        Ok(out)
    }
}
