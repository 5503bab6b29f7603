//! How the export engine fails, on SQLite and Postgres: a file the store will not take is retried
//! after the configured back-off until the attempt budget is spent, then failed with nothing left
//! behind; data a format cannot hold and a full disk fail at once (retrying cannot help) with a
//! message saying why, shown on the page.

#![cfg(feature = "ssr")]

mod common;

use std::process::Command;

use chrono::Utc;
use common::{
    Backend, RequestStatus, TestApp, create_export, download, files_under, fixture_id, lease_and_run_at,
    list_export_requests, read_back, request_state, scratch_dir, setup_fixture, sign_download_url,
    unreachable_store_env, work,
};
use data_exports::{
    engine::worker::{Outcome, Worker, WorkerContext},
    records::EntityType,
    with_db,
};
use http::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

on_both_databases!(
    a_file_that_cannot_be_stored_is_retried_then_failed_and_nothing_is_left,
    data_a_format_cannot_hold_fails_at_once_with_a_message_saying_why,
    a_full_disk_fails_the_export_at_once_with_a_clear_message,
);

async fn a_file_that_cannot_be_stored_is_retried_then_failed_and_nothing_is_left(backend: Backend) {
    // A store nobody answers at: every upload fails, an infrastructure failure each time, retried
    // after 1 s, then 2 s (±20 %), until the budget of 3 attempts is spent: all of it configured.
    let mut env = unreachable_store_env().to_vec();
    env.extend([("WORKER_RETRY_BACKOFF_SECS", "1,2"), ("WORKER_MAX_ATTEMPTS", "3")]);
    let app = TestApp::with_env(backend, &env).await;
    let (_, cookie) = setup_fixture(&app).await;
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    let worker = Worker::new(WorkerContext::of(&app.state));
    let policy = app.state.config.worker.retry.clone();
    for attempt in 1..=policy.max_attempts {
        let before = Utc::now();
        let outcome = worker
            .process_next(&CancellationToken::new())
            .await
            .unwrap()
            .expect("runnable");
        let after = Utc::now();
        if attempt == policy.max_attempts {
            assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
            break;
        }
        assert!(
            matches!(outcome, Outcome::Retrying),
            "attempt {attempt}: {outcome:?}"
        );
        assert_eq!(request_state(&app, id).await.status(), "pending");
        let (_, run_at) = lease_and_run_at(&app, id).await;
        let (low, high) = policy.bounds(attempt);
        assert!(
            before + low <= run_at && run_at <= after + high,
            "attempt {attempt}: retry at {run_at}, failed between {before} and {after}"
        );
        // Not before its time.
        assert!(
            worker
                .process_next(&CancellationToken::new())
                .await
                .unwrap()
                .is_none(),
            "attempt {attempt}: retried before its back-off"
        );
        let wait = (run_at - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + std::time::Duration::from_millis(20)).await;
    }
    let state = request_state(&app, id).await;
    assert_eq!(state.status(), "failed");
    let error = state.request.error.unwrap();
    assert_eq!(error, "The file could not be stored. Request the export again.");
    assert_eq!(state.storage_key, None);
    assert_eq!(app.audit_count("export_request_failed").await, 1);
    // The page shows the message, and there is nothing to download.
    let page = list_export_requests(&app, &cookie).await.json();
    assert_eq!(page["items"][0]["error"], error);
    let signed = sign_download_url(&app, &cookie, id).await;
    assert_eq!(signed.status, StatusCode::CONFLICT);
}

async fn data_a_format_cannot_hold_fails_at_once_with_a_message_saying_why(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (organization_id, cookie) = setup_fixture(&app).await;
    let huge = "x".repeat(40_000);
    // No function of the app writes records (exports only read them): changed as `setup_fixture`
    // inserted it, by SQL.
    with_db!(&app.state.db, pool => {
        sqlx::query("UPDATE appointments SET notes = $1 WHERE organization_id = $2 AND id = $3")
            .bind(&huge).bind(organization_id).bind(fixture_id(EntityType::Appointments, 1))
            .execute(pool).await.unwrap();
    });
    let id = create_export(&app, &cookie, "selected_records", "xlsx", &["appointments"]).await;
    let Outcome::Failed(message) = work(&app).await else {
        panic!("expected a failure");
    };
    assert!(message.contains("32,767"), "{message}");
    let state = request_state(&app, id).await;
    assert_eq!(
        state.status_attempt(),
        ("failed", 1),
        "not retried: it would fail again"
    );
    assert_eq!(state.request.error.as_deref(), Some(message));
    // The same records as CSV are fine.
    let id = create_export(&app, &cookie, "selected_records", "csv", &["appointments"]).await;
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    let file = read_back(&download(&app, &cookie, id).await, "csv", "appointments");
    assert_eq!(file["entities"]["appointments"]["rows"][1][8], json!(huge));
}

/// A tmpfs of `size` mounted at a new directory, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` (and a note) when this process may not mount: only root can.
    fn mount(size: &str) -> Option<SmallDisk> {
        let uid = Command::new("id").arg("-u").output().unwrap().stdout;
        if String::from_utf8_lossy(&uid).trim() != "0" {
            eprintln!("disk-full test skipped: mounting a small tmpfs needs root");
            return None;
        }
        let dir = scratch_dir(&format!("small-disk-{}", Uuid::new_v4().simple()));
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs at {}", dir.display());
        Some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

async fn a_full_disk_fails_the_export_at_once_with_a_clear_message(backend: Backend) {
    let Some(disk) = SmallDisk::mount("1m") else {
        return;
    };
    let storage_url = format!("file://{}", disk.0.display());
    // Several megabytes of JSON for a one-megabyte disk.
    let app = TestApp::seeded_with(backend, &[("STORAGE_URL", &storage_url)], 5_000).await;
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "full_organization", "json", &[]).await;
    let Outcome::Failed(message) = work(&app).await else {
        panic!("a full disk must fail the export");
    };
    assert_eq!(
        message,
        "The file store is full, so the export could not be saved. Ask your administrator to free space, then request the export again."
    );
    let state = request_state(&app, id).await;
    assert_eq!(
        (state.status(), state.attempt, state.storage_key),
        ("failed", 1, None),
        "not retried: a full disk stays full"
    );
    assert_eq!(app.audit_count("export_request_failed").await, 1);
    let page = list_export_requests(&app, &cookie).await.json();
    assert_eq!(page["items"][0]["error"], message);
    // The half-written file is gone, so the space is free again: a small export fits.
    let pf_exports = disk.0.join("pf-exports");
    assert!(
        files_under(&pf_exports).is_empty(),
        "{:?}",
        files_under(&pf_exports)
    );
    let small = create_export(&app, &cookie, "selected_records", "csv", &["staff"]).await;
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    let file = read_back(&download(&app, &cookie, small).await, "csv", "staff");
    assert!(!file["entities"]["staff"]["rows"].as_array().unwrap().is_empty());
}
