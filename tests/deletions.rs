//! No file is ever forgotten, on both databases and both stores: what an outcome makes garbage is
//! noted in its transaction, and the sweep deletes it once the store answers again, however long
//! it was down; an outage costs an export attempts and time, never a leftover object.

#![cfg(feature = "ssr")]

mod common;

use std::time::Duration;

use common::{Backend, TestApp};
use data_exports::{
    engine::worker::{Outcome, Worker, WorkerContext},
    exports::{catalog::ValidExport, deletions, model::ExportFormat, model::ExportType, queue, repo},
    records::EntityType,
    storage::ObjectKey,
    with_db,
};
use http::StatusCode;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Each scenario on SQLite and Postgres, with the local store and with S3.
macro_rules! on_both_databases_and_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_fs() {
                    super::$name(app(Backend::Sqlite, false).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_s3() {
                    super::$name(app(Backend::Sqlite, true).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_fs() {
                    super::$name(app(Backend::Postgres, false).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_s3() {
                    super::$name(app(Backend::Postgres, true).await).await
                }
            }
        )*
    };
}

on_both_databases_and_stores!(
    a_failure_while_the_store_is_down_leaves_its_files_noted_until_the_store_is_back,
    deleting_from_the_history_during_an_outage_deletes_the_files_once_the_store_is_back,
    a_killed_attempt_a_database_restart_and_a_store_outage_still_end_in_one_object,
);

/// Short waits so the tests take seconds: back-off 0.3 s, 0.6 s, … and a budget of 4 attempts.
const ENV: [(&str, &str); 2] = [
    ("WORKER_RETRY_BACKOFF_SECS", "0.3,0.6"),
    ("WORKER_MAX_ATTEMPTS", "4"),
];

async fn app(backend: Backend, s3: bool) -> TestApp {
    let app = if s3 {
        TestApp::with_s3(backend, &ENV).await
    } else {
        TestApp::with_env(backend, &ENV).await
    };
    data_exports::seed::demo(&app.state.db, 30).await.unwrap();
    app
}

/// A request of Acme's admin for a small CSV; returns (organisation, request).
async fn enqueue(app: &TestApp) -> (Uuid, Uuid) {
    let (organization, user): (Uuid, Uuid) = with_db!(&app.state.db, pool => {
        sqlx::query_as(
            "SELECT o.id, u.id FROM organizations o, users u \
             WHERE o.slug = 'acme-behavioral-health' AND u.email = 'admin@acme.test'",
        )
        .fetch_one(pool).await.unwrap()
    });
    let export = ValidExport {
        export_type: ExportType::SelectedRecords,
        export_format: ExportFormat::Csv,
        entity_types: vec![EntityType::Clients],
    };
    let mut tx = app.state.db.begin().await.unwrap();
    let created = repo::insert_in(
        &mut tx,
        organization,
        user,
        &export,
        app.state.config.worker.retry.max_attempts,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (organization, created.id)
}

/// Attempt 1 claims the request, uploads its file and is SIGKILLed before recording it (its
/// lease runs out at once). Returns its file's key.
async fn killed_after_its_upload(app: &TestApp, organization: Uuid, id: Uuid) -> ObjectKey {
    let db = &app.state.db;
    let claim = queue::claim(
        db,
        "killed",
        Duration::from_millis(1),
        &app.state.config.worker.retry,
    )
    .await
    .unwrap()
    .expect("claimable");
    assert_eq!((claim.id(), claim.attempt), (id, 1));
    let key = ObjectKey::export_file(organization, id, 1, "csv");
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"id\n"))]);
    app.state
        .storage
        .put_stream(&key, "text/csv", body)
        .await
        .unwrap();
    key
}

/// Runs the worker of `app` on the next request, once its back-off has passed.
async fn next_attempt(app: &TestApp) -> Outcome {
    let worker = Worker::new(WorkerContext::of(&app.state));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(outcome) = worker.process_next(&CancellationToken::new()).await.unwrap() {
            return outcome;
        }
        assert!(std::time::Instant::now() < deadline, "nothing became runnable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The notes still waiting: (key, tries, has an error).
async fn noted(app: &TestApp) -> Vec<(String, i32, bool)> {
    with_db!(&app.state.db, pool => {
        sqlx::query_as(
            "SELECT storage_key, tries, last_error IS NOT NULL FROM pf_object_deletions ORDER BY storage_key",
        )
        .fetch_all(pool).await.unwrap()
    })
}

/// Sweeps with `app`'s store until nothing is noted (each note waits out its back-off).
async fn sweep_until_clean(app: &TestApp) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !noted(app).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "still noted: {:?}",
            noted(app).await
        );
        deletions::sweep(
            &app.state.db,
            &app.state.storage,
            &app.state.config.worker.retry,
            None,
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(app: &TestApp, id: Uuid) -> (String, i32) {
    with_db!(&app.state.db, pool => {
        sqlx::query_as("SELECT status, attempt FROM pf_export_requests WHERE id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    })
}

async fn a_failure_while_the_store_is_down_leaves_its_files_noted_until_the_store_is_back(app: TestApp) {
    let (organization, id) = enqueue(&app).await;
    let prefix = format!("{organization}/{id}");
    killed_after_its_upload(&app, organization, id).await;
    assert_eq!(app.objects(&prefix), ["export-1.csv"]);

    // The store goes down: attempts 2, 3 and 4 fail on it, the last for good, and the files of
    // every attempt are noted in the failure's transaction; deleting them fails for now.
    let down = app.with_store_down().await;
    for attempt in 2..=4 {
        let outcome = next_attempt(&down).await;
        if attempt < 4 {
            assert!(
                matches!(outcome, Outcome::Retrying),
                "attempt {attempt}: {outcome:?}"
            );
        } else {
            assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        }
    }
    assert_eq!(status(&app, id).await, ("failed".into(), 4));
    let notes = noted(&app).await;
    assert_eq!(notes.len(), 4, "every attempt's file noted: {notes:?}");
    assert!(
        notes.iter().all(|(_, tries, failed)| *tries == 1 && *failed),
        "tried once, failed, kept: {notes:?}"
    );
    assert_eq!(app.objects(&prefix), ["export-1.csv"], "the store was down");

    // Sweeping while it is still down keeps them, with a growing count of tries.
    tokio::time::sleep(Duration::from_millis(400)).await;
    deletions::sweep(
        &down.state.db,
        &down.state.storage,
        &down.state.config.worker.retry,
        None,
    )
    .await
    .unwrap();
    assert!(noted(&app).await.iter().all(|(_, tries, _)| *tries == 2));

    // Back: the sweep deletes the file and forgets the notes.
    sweep_until_clean(&app).await;
    assert!(
        app.objects(&prefix).is_empty(),
        "left: {:?}",
        app.objects(&prefix)
    );
}

async fn deleting_from_the_history_during_an_outage_deletes_the_files_once_the_store_is_back(app: TestApp) {
    let (organization, id) = enqueue(&app).await;
    let prefix = format!("{organization}/{id}");
    killed_after_its_upload(&app, organization, id).await;
    assert!(matches!(next_attempt(&app).await, Outcome::Completed(_)));
    assert_eq!(
        app.objects(&prefix),
        ["export-2.csv"],
        "attempt 1's file went at completion"
    );

    // Deleted from the page while the store is down: the entry goes at once, the file is noted.
    let down = app.with_store_down().await;
    let cookie = down.login("admin@acme.test").await;
    let response = down
        .call("delete_export_request", &[("id", &id.to_string())], Some(&cookie))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let rows: i64 = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM pf_export_requests WHERE id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    });
    assert_eq!(rows, 0);
    assert_eq!(app.audit_count("export_request_deleted").await, 1);
    assert_eq!(app.objects(&prefix), ["export-2.csv"], "the store was down");
    let notes = noted(&app).await;
    assert!(
        notes
            .iter()
            .any(|(key, _, _)| key.ends_with(&format!("{id}/export-2.csv"))),
        "{notes:?}"
    );

    sweep_until_clean(&app).await;
    assert!(
        app.objects(&prefix).is_empty(),
        "left: {:?}",
        app.objects(&prefix)
    );
}

async fn a_killed_attempt_a_database_restart_and_a_store_outage_still_end_in_one_object(app: TestApp) {
    let (organization, id) = enqueue(&app).await;
    let prefix = format!("{organization}/{id}");
    killed_after_its_upload(&app, organization, id).await;

    // The database restarts: every open connection is cut (SQLite has no server to restart).
    if app.backend == Backend::Postgres {
        with_db!(&app.state.db, pool => {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .execute(pool).await.map(drop).unwrap()
        });
    }
    // Then the store is down for attempt 2: an infrastructure failure, retried after a back-off.
    let down = app.with_store_down().await;
    assert!(matches!(next_attempt(&down).await, Outcome::Retrying));
    assert_eq!(status(&app, id).await, ("pending".into(), 2));

    // Back: attempt 3 completes, and exactly its object remains.
    let Outcome::Completed(produced) = next_attempt(&app).await else {
        panic!("attempt 3 should complete");
    };
    assert!(produced.key.as_str().ends_with("/export-3.csv"));
    assert_eq!(status(&app, id).await, ("completed".into(), 3));
    sweep_until_clean(&app).await;
    assert_eq!(app.objects(&prefix), ["export-3.csv"]);
    assert_eq!(app.audit_count("export_request_completed").await, 1);
}
