//! The export queue on SQLite and Postgres: every job claimed exactly once by concurrent workers,
//! expired leases re-claimed with the stale attempt fenced out, poison jobs failed at max_attempts.

#![cfg(feature = "ssr")]

mod common;

use std::{collections::HashSet, time::Duration};

use common::{Backend, TestApp};
use data_exports::{
    exports::{
        catalog,
        model::{ExportFormat, ExportType},
        queue::{self, Claim, Completion},
        repo,
    },
    records::EntityType,
    with_db,
};
use uuid::Uuid;

on_both_databases!(
    concurrent_workers_claim_every_job_exactly_once,
    an_expired_lease_is_claimed_again_and_the_stale_attempt_is_fenced,
    a_poison_job_fails_at_max_attempts,
    a_released_job_is_pending_again_fenced_and_costs_no_attempt,
);

const LEASE: Duration = Duration::from_secs(60);

async fn enqueue(app: &TestApp, n: usize) -> Vec<Uuid> {
    let organization: Uuid = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT id FROM organizations ORDER BY slug LIMIT 1").fetch_one(pool).await.unwrap()
    });
    let user: Uuid = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT id FROM users LIMIT 1").fetch_one(pool).await.unwrap()
    });
    let export = catalog::ValidExport {
        export_type: ExportType::SelectedRecords,
        export_format: ExportFormat::Csv,
        entity_types: vec![EntityType::Clients],
    };
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            repo::insert(&app.state.db, organization, user, &export)
                .await
                .unwrap()
                .id,
        );
    }
    ids
}

async fn status(app: &TestApp, id: Uuid) -> (String, i32) {
    with_db!(&app.state.db, pool => {
        sqlx::query_as("SELECT status, attempt FROM pf_export_requests WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

fn done(claim: &Claim) -> Completion {
    Completion {
        storage_key: format!("{}/{}/export.csv", claim.organization_id, claim.id),
        file_name: "export.csv".into(),
        row_count: 1,
        file_size_bytes: 10,
        execution_time_ms: 5,
    }
}

async fn concurrent_workers_claim_every_job_exactly_once(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let ids = enqueue(&app, 40).await;
    let mut workers = Vec::new();
    for worker in 0..4 {
        let db = app.state.db.clone();
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(claim) = queue::claim(&db, &format!("worker-{worker}"), LEASE)
                .await
                .unwrap()
            {
                assert!(queue::complete(&db, &claim, &done(&claim)).await.unwrap());
                claimed.push(claim.id);
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
        assert_eq!(status(&app, id).await, ("completed".into(), 1));
    }
}

async fn an_expired_lease_is_claimed_again_and_the_stale_attempt_is_fenced(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let [id] = enqueue(&app, 1).await[..] else {
        unreachable!()
    };
    let db = &app.state.db;
    // The first worker's lease ends at once (as if it died and stopped renewing).
    let stale = queue::claim(db, "dead-worker", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fresh = queue::claim(db, "live-worker", LEASE)
        .await
        .unwrap()
        .expect("re-claimed");
    assert_eq!((fresh.id, fresh.attempt), (id, 2));
    assert!(
        queue::claim(db, "third", LEASE).await.unwrap().is_none(),
        "held under a live lease"
    );

    // The stale worker can change nothing.
    assert!(!queue::heartbeat(db, &stale, LEASE).await.unwrap());
    assert!(!queue::progress(db, &stale, 50).await.unwrap());
    assert!(!queue::complete(db, &stale, &done(&stale)).await.unwrap());
    assert!(!queue::fail(db, &stale, "stale").await.unwrap());
    assert_eq!(status(&app, id).await, ("processing".into(), 2));

    assert!(queue::heartbeat(db, &fresh, LEASE).await.unwrap());
    assert!(queue::progress(db, &fresh, 70).await.unwrap());
    assert!(queue::complete(db, &fresh, &done(&fresh)).await.unwrap());
    assert_eq!(status(&app, id).await, ("completed".into(), 2));
}

async fn a_poison_job_fails_at_max_attempts(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let [id] = enqueue(&app, 1).await[..] else {
        unreachable!()
    };
    let db = &app.state.db;
    for attempt in 1..=repo::MAX_ATTEMPTS {
        let claim = queue::claim(db, "crashing-worker", Duration::ZERO)
            .await
            .unwrap()
            .expect("claimable");
        assert_eq!(claim.attempt, attempt);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        queue::claim(db, "w", LEASE).await.unwrap().is_none(),
        "no attempts left"
    );
    let mut tx = db.begin().await.unwrap();
    let failed = queue::fail_exhausted(&mut tx, "The export could not be completed.")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id);
    assert_eq!(status(&app, id).await, ("failed".into(), repo::MAX_ATTEMPTS));
}

async fn a_released_job_is_pending_again_fenced_and_costs_no_attempt(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let [id] = enqueue(&app, 1).await[..] else {
        unreachable!()
    };
    let db = &app.state.db;
    let claim = queue::claim(db, "stopping-worker", LEASE).await.unwrap().unwrap();
    assert!(queue::release(db, &claim).await.unwrap());
    assert_eq!(status(&app, id).await, ("pending".into(), 1));
    let again = queue::claim(db, "next-worker", LEASE).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (id, 2));
    // The releasing worker's late writes (a heartbeat in flight) cannot touch the new holder's run.
    assert!(!queue::heartbeat(db, &claim, LEASE).await.unwrap());
    assert!(!queue::complete(db, &claim, &done(&claim)).await.unwrap());
    // And the release cost no attempt: the full budget is still there for the new holder.
    let budget: i32 = with_db!(db, pool => {
        sqlx::query_scalar("SELECT max_attempts - attempt FROM pf_export_requests WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(budget, repo::MAX_ATTEMPTS - 1);
}
