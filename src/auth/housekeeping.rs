//! What sign-in leaves behind, removed on a timer by every web process: sessions past their
//! absolute expiry, failed sign-ins older than the throttle window and denial counts older than
//! they are kept. All only ever grow otherwise (under a password-guessing flood, fast).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{
    audit::denials,
    auth::{session, throttle},
    db::Db,
    error::LogSafe,
};

/// How often a web process sweeps. Deleting what another process already deleted is harmless.
pub const EVERY: Duration = Duration::from_secs(10 * 60);

/// One sweep; returns (sessions, failures and denial counts) removed.
pub async fn sweep(db: &Db) -> Result<(u64, u64), sqlx::Error> {
    Ok((
        session::purge_expired(db).await?,
        throttle::purge_stale(db).await? + denials::purge_stale(db).await?,
    ))
}

/// Sweeps now and every [`EVERY`] until `shutdown`.
pub async fn run(db: Db, shutdown: CancellationToken) {
    loop {
        match sweep(&db).await {
            Ok((0, 0)) => {}
            Ok((sessions, failures)) => {
                tracing::info!(sessions, failures, "housekeeping removed stale sign-in state")
            }
            Err(error) => {
                tracing::warn!(error = %LogSafe(&error), "housekeeping failed; trying again later")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
