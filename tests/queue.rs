//! The export queue on SQLite and Postgres: every job claimed exactly once by concurrent workers,
//! expired leases re-claimed (only after their back-off) with the stale attempt fenced out,
//! poison jobs failed at max_attempts. Back-offs and budgets come from the app's configuration.

#![cfg(feature = "ssr")]

mod common;

use std::{collections::HashSet, time::Duration};

use common::{
    Backend, RequestStatus, TestApp, enqueue, enqueue_in, enqueue_one, lease_and_run_at, organization_id,
    request_state,
};
use data_exports::{
    exports::queue::{self, Claim, Completion},
    retry::RetryPolicy,
};

on_both_databases!(
    concurrent_workers_claim_every_job_exactly_once,
    an_expired_lease_is_claimed_again_and_the_stale_attempt_is_fenced,
    a_poison_job_fails_at_max_attempts,
    a_released_job_is_pending_again_fenced_and_costs_no_attempt,
    a_silent_attempt_is_taken_over_only_after_its_lease_and_back_off,
    a_busy_organisation_cannot_hold_back_another,
);

const LEASE: Duration = Duration::from_secs(60);

/// Back-off 1.5 s, then 60 s, and 3 attempts in all: a takeover's wait is long enough to see.
const SLOW_BACK_OFF: [(&str, &str); 2] = [
    ("WORKER_RETRY_BACKOFF_SECS", "1.5,60"),
    ("WORKER_MAX_ATTEMPTS", "3"),
];

/// No wait between attempts: these tests are about claims and fences, not back-off.
async fn at_once(backend: Backend) -> (TestApp, RetryPolicy) {
    let app = TestApp::seeded_with(backend, &[("WORKER_RETRY_BACKOFF_SECS", "0")], 30).await;
    let policy = app.state.config.worker.retry.clone();
    (app, policy)
}

fn done(claim: &Claim) -> Completion {
    Completion {
        storage_key: format!("{}/{}/export.csv", claim.organization_id, claim.id()),
        file_name: "export.csv".into(),
        row_count: 1,
        file_size_bytes: 10,
        execution_time_ms: 5,
        sha256: "0".repeat(64),
        row_counts: Default::default(),
        snapshot_at: chrono::Utc::now(),
        completed_at: data_exports::db::now(),
        expires_at: chrono::Utc::now() + chrono::TimeDelta::days(7),
    }
}

async fn concurrent_workers_claim_every_job_exactly_once(backend: Backend) {
    let (app, policy) = at_once(backend).await;
    let ids = enqueue(&app, 40).await;
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (db, policy) = (app.state.db.clone(), policy.clone());
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(claim) = queue::claim(&db, &format!("worker-{worker}"), LEASE, &policy)
                .await
                .unwrap()
            {
                assert!(queue::complete(&db, &claim, &done(&claim)).await.unwrap());
                claimed.push(claim.id());
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40, "every job claimed");
    assert_eq!(unique.len(), 40, "no job claimed twice");
    for id in ids {
        assert_eq!(request_state(&app, id).await.status_attempt(), ("completed", 1));
    }
}

async fn an_expired_lease_is_claimed_again_and_the_stale_attempt_is_fenced(backend: Backend) {
    let (app, policy) = at_once(backend).await;
    let id = enqueue_one(&app).await;
    let db = &app.state.db;
    // The first worker's lease ends at once (as if it died and stopped renewing).
    let stale = queue::claim(db, "dead-worker", Duration::ZERO, &policy)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fresh = queue::claim(db, "live-worker", LEASE, &policy)
        .await
        .unwrap()
        .expect("re-claimed");
    assert_eq!((fresh.id(), fresh.attempt), (id, 2));
    assert!(
        queue::claim(db, "third", LEASE, &policy).await.unwrap().is_none(),
        "held under a live lease"
    );

    // The stale worker can change nothing.
    assert!(!queue::heartbeat(db, &stale, LEASE, &policy).await.unwrap());
    assert!(!queue::progress(db, &stale, 50).await.unwrap());
    assert!(!queue::complete(db, &stale, &done(&stale)).await.unwrap());
    assert!(!queue::fail(db, &stale, "stale").await.unwrap());
    assert_eq!(request_state(&app, id).await.status_attempt(), ("processing", 2));

    assert!(queue::heartbeat(db, &fresh, LEASE, &policy).await.unwrap());
    assert!(queue::progress(db, &fresh, 70).await.unwrap());
    assert!(queue::complete(db, &fresh, &done(&fresh)).await.unwrap());
    assert_eq!(request_state(&app, id).await.status_attempt(), ("completed", 2));
}

async fn a_poison_job_fails_at_max_attempts(backend: Backend) {
    let (app, policy) = at_once(backend).await;
    let id = enqueue_one(&app).await;
    let db = &app.state.db;
    for attempt in 1..=policy.max_attempts {
        let claim = queue::claim(db, "crashing-worker", Duration::ZERO, &policy)
            .await
            .unwrap()
            .expect("claimable");
        assert_eq!(claim.attempt, attempt);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        queue::claim(db, "w", LEASE, &policy).await.unwrap().is_none(),
        "no attempts left"
    );
    let mut tx = db.begin().await.unwrap();
    let failed = queue::fail_exhausted(&mut tx, "The export could not be completed.")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id(), id);
    assert_eq!(
        request_state(&app, id).await.status_attempt(),
        ("failed", policy.max_attempts)
    );
}

async fn a_released_job_is_pending_again_fenced_and_costs_no_attempt(backend: Backend) {
    let (app, policy) = at_once(backend).await;
    let id = enqueue_one(&app).await;
    let db = &app.state.db;
    let claim = queue::claim(db, "stopping-worker", LEASE, &policy)
        .await
        .unwrap()
        .unwrap();
    assert!(queue::release(db, &claim).await.unwrap());
    assert_eq!(request_state(&app, id).await.status_attempt(), ("pending", 1));
    let again = queue::claim(db, "next-worker", LEASE, &policy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id(), again.attempt), (id, 2));
    // The releasing worker's late writes (a heartbeat in flight) cannot touch the new holder's run.
    assert!(!queue::heartbeat(db, &claim, LEASE, &policy).await.unwrap());
    assert!(!queue::complete(db, &claim, &done(&claim)).await.unwrap());
    // And the release cost no attempt: the full budget is still there for the new holder.
    let state = request_state(&app, id).await;
    assert_eq!(state.max_attempts - state.attempt, policy.max_attempts - 1);
}

/// A worker killed mid-export (or whose failure the database was down to record) goes silent:
/// its attempt is taken over once the lease has run out *plus* the back-off, never at the
/// lease's end alone, and the row's timestamps show the wait.
async fn a_silent_attempt_is_taken_over_only_after_its_lease_and_back_off(backend: Backend) {
    let app = TestApp::seeded_with(backend, &SLOW_BACK_OFF, 30).await;
    let id = enqueue_one(&app).await;
    let db = &app.state.db;
    let policy = &app.state.config.worker.retry;
    let lease = Duration::from_millis(200);
    let silent = queue::claim(db, "killed-worker", lease, policy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(silent.attempt, 1);
    let (lease_end, takeover) = lease_and_run_at(&app, id).await;
    let lease_end = lease_end.unwrap();
    let (low, high) = policy.bounds(1);
    let waited = (takeover - lease_end).to_std().unwrap();
    assert!(
        low <= waited && waited <= high,
        "takeover {waited:?} after the lease, not within {low:?}..{high:?}"
    );

    // The lease has run out, the back-off has not: nobody may take it.
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert!(queue::claim(db, "eager", LEASE, policy).await.unwrap().is_none());
    let mut tx = db.begin().await.unwrap();
    assert!(queue::fail_exhausted(&mut tx, "gone").await.unwrap().is_empty());
    tx.commit().await.unwrap();

    // Once it has, the next attempt starts, and the silent one is fenced out.
    let left = (takeover - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
    let next = queue::claim(db, "next", LEASE, policy)
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!((next.id(), next.attempt), (id, 2));
    assert!(!queue::complete(db, &silent, &done(&silent)).await.unwrap());
    // And the second attempt's own takeover is a longer step of the back-off.
    let (lease_end, takeover) = lease_and_run_at(&app, id).await;
    let lease_end = lease_end.unwrap();
    assert!((takeover - lease_end).to_std().unwrap() >= policy.bounds(2).0);
}

/// Acme queues 50, then Globex 1. With slots to spare Globex's starts second, before Acme's
/// second; with one slot the organisations take turns.
async fn a_busy_organisation_cannot_hold_back_another(backend: Backend) {
    let (app, policy) = at_once(backend).await;
    let db = &app.state.db;
    let acme = enqueue(&app, 50).await;
    let globex = enqueue_in(&app, "globex-clinic", "admin@globex.test", 2).await;
    let globex_org = organization_id(&app, "globex-clinic").await;
    let mut claimed = Vec::new();
    for _ in 0..3 {
        claimed.push(queue::claim(db, "w", LEASE, &policy).await.unwrap().unwrap());
    }
    let order: Vec<bool> = claimed.iter().map(|c| c.organization_id == globex_org).collect();
    assert_eq!(order, [false, true, false], "Globex's request must start second");
    assert_eq!(
        (claimed[0].id(), claimed[1].id(), claimed[2].id()),
        (acme[0], globex[0], acme[1])
    );

    // One slot: each claim completes before the next; the organisations alternate while both
    // have work, the oldest request first within each.
    for claim in &claimed {
        assert!(queue::complete(db, claim, &done(claim)).await.unwrap());
    }
    let mut turns = Vec::new();
    for _ in 0..4 {
        let claim = queue::claim(db, "w", LEASE, &policy).await.unwrap().unwrap();
        turns.push(claim.id());
        assert!(queue::complete(db, &claim, &done(&claim)).await.unwrap());
    }
    assert_eq!(turns, [globex[1], acme[2], acme[3], acme[4]]);
}
