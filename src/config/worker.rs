//! How export workers run: concurrency, leases, polling, shutdown, the engine's batch size and
//! CSV flavour, and the retry policy.

use std::time::Duration;

use super::source::{ConfigError, Source, env_name};
use crate::retry::RetryPolicy;

/// How export workers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `serve` also runs a worker. Off when dedicated `worker` processes do the work.
    /// `[app] worker-in-process` (default true).
    pub in_process: bool,
    /// Exports one process produces at a time. `[app] worker-concurrency` (default 2, 1–64).
    pub concurrency: usize,
    /// A claim's lease; renewed every third of it while the export runs, and a worker that dies
    /// loses its claim when it (and the retry back-off) runs out. `[app] worker-lease-secs` (30).
    pub lease: Duration,
    /// How often an idle worker looks for work (and sweeps noted deletions); Postgres also wakes
    /// it with NOTIFY. `[app] worker-poll-secs` (default 2).
    pub poll_interval: Duration,
    /// On SIGTERM, how long running exports may take to finish before they are handed back.
    /// `[app] worker-shutdown-grace-secs` (default 20).
    pub shutdown_grace: Duration,
    /// Rows handed to the encoder at a time; rows in flight, and so memory, grow with it.
    /// `[app] export-batch-rows` (default 1000, 1–50000).
    pub batch_rows: u32,
    /// At most this many rows a second per export (0: as fast as the database gives them): keeps
    /// a large export from crowding a shared database's other work.
    /// `[app] export-rows-per-second` (default 0).
    pub rows_per_second: u32,
    /// Start CSV files with a UTF-8 byte-order mark so Excel reads accents right.
    /// `[app] export-csv-bom` (default true).
    pub csv_bom: bool,
    /// How an export that failed for a passing reason (database or store unreachable, worker
    /// killed) is tried again: waits of 5 s, 20 s, 60 s, 3 min, then 5 min (±20 %), six attempts
    /// in all. `[app] worker-retry-backoff-secs` (comma-separated; the last repeats),
    /// `[app] worker-max-attempts`.
    pub retry: RetryPolicy,
    /// How long completed files are kept, for organisations that have not chosen their own
    /// (1 hour to 30 days, set on the page or with `data-exports org set-retention`).
    /// `[app] export-retention-secs` (default 7 days; as short as a second, for tests and demos).
    pub retention: Duration,
    /// How long the ledger of disclosures keeps an export's entry, counted from its completion,
    /// whatever happens to the request or its file (the accounting a client may ask for covers
    /// six years). `[app] disclosure-retention-days` (default 2192, six years; 1–36500).
    pub disclosure_retention_days: u32,
}

impl WorkerSettings {
    pub fn load(source: &Source) -> Result<WorkerSettings, ConfigError> {
        Ok(WorkerSettings {
            in_process: source.or("worker-in-process", true)?,
            concurrency: source.within("worker-concurrency", 2, 1..=64)?,
            lease: source.secs("worker-lease-secs", 30)?,
            poll_interval: source.secs("worker-poll-secs", 2)?,
            shutdown_grace: source.secs("worker-shutdown-grace-secs", 20)?,
            batch_rows: source.within("export-batch-rows", 1000, 1..=50_000)?,
            rows_per_second: source.within("export-rows-per-second", 0, 0..=100_000_000)?,
            csv_bom: source.or("export-csv-bom", true)?,
            retry: retry_policy(source)?,
            retention: source.secs("export-retention-secs", 7 * 24 * 3600)?,
            disclosure_retention_days: source.within("disclosure-retention-days", 2192, 1..=36_500)?,
        })
    }
}

fn retry_policy(source: &Source) -> Result<RetryPolicy, ConfigError> {
    let default = RetryPolicy::default();
    let steps = match source.get::<String>("worker-retry-backoff-secs")? {
        Some(text) => RetryPolicy::parse_steps(&text)
            .map_err(|message| ConfigError::invalid(env_name("worker-retry-backoff-secs"), message))?,
        None => default.steps().to_vec(),
    };
    let max_attempts = source.or("worker-max-attempts", default.max_attempts)?;
    RetryPolicy::new(steps, max_attempts).map_err(|message| {
        let key = if message.contains("budget") {
            "worker-max-attempts"
        } else {
            "worker-retry-backoff-secs"
        };
        ConfigError::invalid(env_name(key), message)
    })
}
