//! Password hashing with argon2id, always off the async runtime (it is deliberately slow and
//! takes 19 MiB a check): sign-in's checks run at most one per core at a time; beyond that a
//! sign-in waits a while for its turn (`[app] password-check-wait-ms`), then is answered 503 with
//! `Retry-After`, so a flood of sign-ins costs a bounded amount of memory and CPU rather than a
//! thread and 19 MiB each.

use std::{
    sync::{
        LazyLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::Semaphore;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::AppError;

/// Verified against when the account does not exist, so a wrong email costs the same time as
/// a wrong password and response times do not reveal which accounts exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not a real password").unwrap_or_default());

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// The PHC string (`$argon2id$v=19$…`) for `password`, with a fresh random salt.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::internal("password hashing task failed", e))?
        .map_err(|e| AppError::internal("password hashing failed", e))
}

/// Password checks at once: one per core.
static CHECKS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(bound()));
/// How many checks run now, and the most that ever ran at once (for tests and metrics).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// How many password checks may run at once: the machine's cores.
pub fn bound() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The most password checks this process ever ran at once.
pub fn peak_running() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Whether `password` matches `stored`; with `None`, spends the same effort and answers false.
/// [`AppError::Busy`] when no check came free within `wait`.
pub async fn verify(password: String, stored: Option<String>, wait: Duration) -> Result<bool, AppError> {
    let busy = AppError::Busy {
        retry_after_secs: wait.as_secs().clamp(1, 5),
    };
    let _permit = match tokio::time::timeout(wait, CHECKS.acquire()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(busy),
    };
    tokio::task::spawn_blocking(move || {
        let running = RUNNING.fetch_add(1, Ordering::Relaxed) + 1;
        PEAK.fetch_max(running, Ordering::Relaxed);
        let _done = scopeguard(|| {
            RUNNING.fetch_sub(1, Ordering::Relaxed);
        });
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        exists && matches
    })
    .await
    .map_err(|e| AppError::internal("password verification task failed", e))
}

/// Runs `f` when dropped (the check's count goes down even if it panics).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        let wait = Duration::from_secs(5);
        assert!(
            verify("correct horse".into(), Some(stored.clone()), wait)
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse".into(), Some(stored.clone()), wait)
                .await
                .unwrap()
        );
        assert!(!verify("correct horse".into(), None, wait).await.unwrap());
        // A fresh salt every time.
        assert_ne!(stored, hash("correct horse".into()).await.unwrap());
    }
}
