//! No file is ever forgotten, on both databases and both stores: what an outcome makes garbage is
//! noted in its transaction, and the sweep deletes it once the store answers again, however long
//! it was down; an outage costs an export attempts and time, never a leftover object.

#![cfg(feature = "ssr")]

mod common;

use std::time::Duration;

use common::{
    ACME, Backend, RequestStatus, TestApp, delete_export_request, enqueue_one, eventually,
    killed_after_upload, next_attempt, organization_id, request_exists, request_state,
};
use data_exports::{engine::worker::Outcome, exports::deletions, with_db};
use http::StatusCode;

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

/// The notes still waiting: (key, tries, has an error).
async fn noted(app: &TestApp) -> Vec<(String, i32, bool)> {
    with_db!(&app.state.db, pool => {
        sqlx::query_as(
            "SELECT storage_key, tries, last_error IS NOT NULL FROM pf_object_deletions ORDER BY storage_key",
        )
        .fetch_all(pool).await.unwrap()
    })
}

/// Sweeps with `app`'s store once.
async fn sweep(app: &TestApp) {
    let state = &app.state;
    deletions::sweep(&state.db, &state.storage, &state.config.worker.retry, None)
        .await
        .unwrap();
}

/// Sweeps with `app`'s store until nothing is noted (each note waits out its back-off).
async fn sweep_until_clean(app: &TestApp) {
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        "every noted object deleted",
        async || {
            if noted(app).await.is_empty() {
                return Some(());
            }
            sweep(app).await;
            None
        },
    )
    .await;
}

async fn a_failure_while_the_store_is_down_leaves_its_files_noted_until_the_store_is_back(app: TestApp) {
    let id = enqueue_one(&app).await;
    let prefix = format!("{}/{id}", organization_id(&app, ACME).await);
    killed_after_upload(&app, id).await;
    assert_eq!(app.objects(&prefix), ["export-1.csv"]);

    // The store goes down: every further attempt fails on it, the last for good, and the files of
    // every attempt are noted in the failure's transaction; deleting them fails for now.
    let max_attempts = app.state.config.worker.retry.max_attempts;
    let down = app.with_store_down().await;
    for attempt in 2..=max_attempts {
        let outcome = next_attempt(&down).await;
        if attempt < max_attempts {
            assert!(
                matches!(outcome, Outcome::Retrying),
                "attempt {attempt}: {outcome:?}"
            );
        } else {
            assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        }
    }
    let state = request_state(&app, id).await;
    assert_eq!(state.status_attempt(), ("failed", max_attempts));
    let notes = noted(&app).await;
    assert_eq!(
        notes.len(),
        max_attempts as usize,
        "every attempt's file noted: {notes:?}"
    );
    assert!(
        notes.iter().all(|(_, tries, failed)| *tries == 1 && *failed),
        "tried once, failed, kept: {notes:?}"
    );
    assert_eq!(app.objects(&prefix), ["export-1.csv"], "the store was down");

    // Sweeping while it is still down, once their first back-off is over, keeps them, with a
    // growing count of tries.
    let (_, longest) = app.state.config.worker.retry.bounds(1);
    tokio::time::sleep(longest + Duration::from_millis(40)).await;
    sweep(&down).await;
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
    let id = enqueue_one(&app).await;
    let prefix = format!("{}/{id}", organization_id(&app, ACME).await);
    killed_after_upload(&app, id).await;
    assert!(matches!(next_attempt(&app).await, Outcome::Completed(_)));
    assert_eq!(
        app.objects(&prefix),
        ["export-2.csv"],
        "attempt 1's file went at completion"
    );

    // Deleted from the page while the store is down: the entry goes at once, the file is noted.
    let down = app.with_store_down().await;
    let cookie = down.login("admin@acme.test").await;
    let response = delete_export_request(&down, &cookie, id).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(!request_exists(&app, id).await);
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
    let id = enqueue_one(&app).await;
    let prefix = format!("{}/{id}", organization_id(&app, ACME).await);
    killed_after_upload(&app, id).await;

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
    assert_eq!(request_state(&app, id).await.status_attempt(), ("pending", 2));

    // Back: attempt 3 completes, and exactly its object remains.
    let Outcome::Completed(produced) = next_attempt(&app).await else {
        panic!("attempt 3 should complete");
    };
    assert!(produced.key.as_str().ends_with("/export-3.csv"));
    assert_eq!(request_state(&app, id).await.status_attempt(), ("completed", 3));
    sweep_until_clean(&app).await;
    assert_eq!(app.objects(&prefix), ["export-3.csv"]);
    assert_eq!(app.audit_count("export_request_completed").await, 1);
}
