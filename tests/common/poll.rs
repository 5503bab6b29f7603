//! Waiting for what another task or process does: polled, under a deadline that names what never happened.

use std::time::{Duration, Instant};

/// Calls `check` every `every` until it answers `Some`, and returns that answer. Fails the test
/// with "`what` not within `within`" once the deadline has passed.
pub async fn eventually<T>(
    within: Duration,
    every: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(answer) = check().await {
            return answer;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(every).await;
    }
}
