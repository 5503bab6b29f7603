//! Worker processes that die, on SQLite and Postgres: a real `data-exports worker` SIGKILLed
//! mid-export is replaced and the export completes exactly once; one killed mid-upload leaves no
//! part on S3; SIGTERM hands a running export back after the grace period at no cost to its
//! attempts, even one stuck on a stalled store; and the files and open uploads of attempts killed
//! after their upload are removed when the request completes or is deleted.

#![cfg(feature = "ssr")]

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::{
    ACME, Backend, RequestStatus, TestApp, TestServer, claim_export, count, count_for, create_export,
    delete_export_request, download, env_refs, eventually, fail_export, files_under, killed_after_upload,
    next_attempt, noted_uploads, organization_id, read_back, request_state, s3_env, s3_root, setup_fixture,
    stalled_store_env,
};
use data_exports::{
    engine::worker::Outcome,
    exports::{catalog::RECORD_ENTITIES, queue, uploads::Journal},
    storage::{ObjectKey, UploadJournal},
    with_db,
};
use http::StatusCode;
use uuid::Uuid;

on_both_databases!(
    a_worker_killed_mid_export_is_replaced_and_the_export_completes_once,
    a_worker_killed_mid_upload_leaves_no_parts_on_s3,
    sigterm_hands_a_running_export_back_after_the_grace_period,
    files_of_attempts_killed_after_their_upload_are_removed,
    deleting_a_request_aborts_the_upload_a_killed_attempt_left,
);

/// The environment of worker processes sharing `app`'s database and store: one export at a time,
/// `batch_rows` rows per batch, and a short lease, back-off and poll, so that a killed worker's
/// export is taken over within seconds.
fn worker_env(
    app: &TestApp,
    store: &[(&'static str, String)],
    batch_rows: &str,
) -> Vec<(&'static str, String)> {
    let mut env = store.to_vec();
    env.extend([
        ("DATABASE_URL", app.state.config.server.database_url.clone()),
        ("EXPORT_BATCH_ROWS", batch_rows.to_owned()),
        ("WORKER_LEASE_SECS", "2".to_owned()),
        ("WORKER_RETRY_BACKOFF_SECS", "1".to_owned()),
        ("WORKER_POLL_SECS", "1".to_owned()),
        ("WORKER_CONCURRENCY", "1".to_owned()),
    ]);
    env
}

/// An app on a local store that worker processes can share, seeded with enough rows that a
/// worker held to 2,000 rows a second takes seconds, however fast the engine (it once slowed
/// itself by reading a row per query; streamed reads made that a matter of luck); returns it
/// with the workers' environment.
async fn slow_export_setup(backend: Backend) -> (TestApp, Vec<(&'static str, String)>) {
    let storage = common::scratch_dir(&format!("worker-store-{}", Uuid::new_v4().simple()));
    let store = vec![("STORAGE_URL", format!("file://{}", storage.display()))];
    let app = TestApp::seeded_with(backend, &env_refs(&store), 10_000).await;
    let mut env = worker_env(&app, &store, "10");
    env.push(("EXPORT_ROWS_PER_SECOND", "2000".to_owned()));
    (app, env)
}

/// Every file under request `id`'s folder of the local store, hidden temporary files included.
async fn files_of(app: &TestApp, id: Uuid) -> Vec<String> {
    let organization = request_state(app, id).await.organization_id;
    let mut found = files_under(&app.local_bucket().join(format!("{organization}/{id}")));
    found.sort();
    found
}

/// Waits until a worker has made progress on request `id` (and has not finished it).
async fn wait_until_under_way(app: &TestApp, id: Uuid) {
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(50),
        "the worker getting going",
        async || {
            let state = request_state(app, id).await;
            assert_ne!(
                state.status(),
                "completed",
                "finished before the test could interrupt it: slow it down"
            );
            (state.status() == "processing" && state.request.progress >= 1).then_some(())
        },
    )
    .await
}

/// Waits until request `id` is completed, by its second attempt; returns its file's key.
async fn completed_by_the_second_attempt(app: &TestApp, id: Uuid, within: Duration) -> String {
    eventually(
        within,
        Duration::from_millis(200),
        "the second worker finishing",
        async || {
            let state = request_state(app, id).await;
            assert_ne!(state.status(), "failed");
            if state.status() != "completed" {
                return None;
            }
            assert_eq!(state.attempt, 2, "completed by the second attempt");
            state.storage_key
        },
    )
    .await
}

/// The completion notes the dead attempt's file or upload, and the worker deletes it (or aborts
/// it) right after committing: waits until it has.
async fn wait_until_noted_objects_are_deleted(app: &TestApp) {
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(50),
        "the dead attempt's file deleted",
        async || (count(app, "SELECT COUNT(*) FROM pf_object_deletions").await == 0).then_some(()),
    )
    .await
}

async fn a_worker_killed_mid_export_is_replaced_and_the_export_completes_once(backend: Backend) {
    let (app, env) = slow_export_setup(backend).await;
    let mut first = TestServer::worker("kill-first", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "full_organization", "csv", &[]).await;
    wait_until_under_way(&app, id).await;
    first.kill();
    let state = request_state(&app, id).await;
    assert_eq!(
        (state.status(), state.attempt, state.storage_key),
        ("processing", 1, None)
    );
    // A killed worker leaves its hidden temporary file, never a visible object.
    assert_eq!(files_of(&app, id).await, vec![".export-1.zip.partial".to_owned()]);

    let _second = TestServer::worker("kill-second", &env_refs(&env));
    let key = completed_by_the_second_attempt(&app, id, Duration::from_secs(120)).await;
    wait_until_noted_objects_are_deleted(&app).await;
    assert_eq!(
        files_of(&app, id).await,
        vec!["export-2.zip".to_owned()],
        "exactly one object, and the dead attempt's temporary file gone"
    );
    assert!(key.ends_with("/export-2.zip"));
    assert_eq!(app.audit_count("export_request_completed").await, 1);
    let file = read_back(&download(&app, &cookie, id).await, "zip", "");
    let organization_id = organization_id(&app, ACME).await;
    for entity in RECORD_ENTITIES {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE organization_id = $1",
            entity.table()
        );
        let rows = file["entities"][entity.key()]["rows"].as_array().unwrap().len();
        assert_eq!(
            rows as i64,
            count_for(&app, &sql, organization_id).await,
            "{entity:?}"
        );
    }
    // One ledger of disclosures for the request, the winner's, naming every client of Acme.
    let ledger = async |sql: &str| count_for(&app, sql, id).await;
    assert_eq!(
        ledger("SELECT COUNT(*) FROM pf_disclosures WHERE export_request_id = $1").await,
        1
    );
    assert_eq!(
        ledger("SELECT client_count FROM pf_disclosures WHERE export_request_id = $1").await,
        count_for(
            &app,
            "SELECT COUNT(*) FROM clients WHERE organization_id = $1",
            organization_id
        )
        .await
    );
}

async fn a_worker_killed_mid_upload_leaves_no_parts_on_s3(backend: Backend) {
    let s3_root = s3_root();
    let s3 = s3_env().await;
    // Enough rows for a JSON file of several 5 MiB parts.
    let app = TestApp::seeded_with(backend, &env_refs(&s3), 40_000).await;
    let env = worker_env(&app, &s3, "20");
    let mut first = TestServer::worker("s3-kill-first", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "full_organization", "json", &[]).await;
    // How s3s-fs keeps an open upload: `.upload-<id>.json`, and its parts as `.upload_id-<id>.part-<n>`.
    let first_part = |upload: &str| s3_root.join(format!(".upload_id-{upload}.part-1"));
    let upload_info = |upload: &str| s3_root.join(format!(".upload-{upload}.json"));
    // Kill the worker once its first part is in the bucket.
    let upload = eventually(
        Duration::from_secs(120),
        Duration::from_millis(20),
        "the worker sending a part",
        async || {
            let status = request_state(&app, id).await.status();
            assert!(
                status == "pending" || status == "processing",
                "{status} before the test could interrupt it: slow it down"
            );
            noted_uploads(&app, id)
                .await
                .pop()
                .filter(|upload| first_part(upload).exists())
        },
    )
    .await;
    first.kill();
    assert_eq!(request_state(&app, id).await.status(), "processing");
    assert!(
        upload_info(&upload).exists() && first_part(&upload).exists(),
        "the killed worker's upload is open on the server"
    );

    let _second = TestServer::worker("s3-kill-second", &env_refs(&env));
    completed_by_the_second_attempt(&app, id, Duration::from_secs(180)).await;
    wait_until_noted_objects_are_deleted(&app).await;
    // The dead attempt's upload was aborted: its parts are gone from the server and its note
    // from the journal.
    assert!(
        noted_uploads(&app, id).await.is_empty(),
        "an upload is still noted"
    );
    let leftovers: Vec<String> = files_under(&s3_root)
        .into_iter()
        .filter(|f| f.contains(&upload))
        .collect();
    assert!(leftovers.is_empty(), "the dead upload left {leftovers:?}");
    let file = read_back(&download(&app, &cookie, id).await, "json", "");
    let appointments = count_for(
        &app,
        "SELECT COUNT(*) FROM appointments WHERE organization_id = $1",
        organization_id(&app, ACME).await,
    )
    .await;
    let rows = file["entities"]["appointments"]["rows"].as_array().unwrap().len();
    assert_eq!(rows as i64, appointments);
}

async fn sigterm_hands_a_running_export_back_after_the_grace_period(backend: Backend) {
    // A store that never answers: the export cannot finish, however fast the machine, and the
    // worker must give it back even though the upload it waits on never returns.
    let app = TestApp::seeded(backend).await;
    let mut env = worker_env(&app, &stalled_store_env().await, "1");
    env.push(("WORKER_SHUTDOWN_GRACE_SECS", "1".to_owned()));
    let mut worker = TestServer::worker("sigterm", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "full_organization", "json", &[]).await;
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(20),
        "the export claimed",
        async || (request_state(&app, id).await.status() == "processing").then_some(()),
    )
    .await;
    let asked = Instant::now();
    worker.terminate_cleanly();
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "handed back before the grace period was over"
    );
    // Pending again, its attempt spent but its budget grown by one: a shutdown costs nothing.
    let state = request_state(&app, id).await;
    assert_eq!(
        (
            state.status(),
            state.attempt,
            state.request.progress,
            state.storage_key
        ),
        ("pending", 1, 0, None)
    );
    assert_eq!(state.max_attempts, app.state.config.worker.retry.max_attempts + 1);
    assert_eq!(app.audit_count("export_request_failed").await, 0);
}

async fn files_of_attempts_killed_after_their_upload_are_removed(backend: Backend) {
    // Taken over as soon as the lease runs out: this test is about files, not back-off.
    let app = TestApp::with_env(backend, &[("WORKER_RETRY_BACKOFF_SECS", "0")]).await;
    let (_, cookie) = setup_fixture(&app).await;
    // Attempt 1 uploaded its file and died before recording it.
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    killed_after_upload(&app, id).await;
    assert_eq!(files_of(&app, id).await, vec!["export-1.csv".to_owned()]);
    let Outcome::Completed(produced) = next_attempt(&app).await else {
        panic!("the second attempt should complete");
    };
    assert!(produced.key.as_str().ends_with("/export-2.csv"));
    assert_eq!(
        files_of(&app, id).await,
        vec!["export-2.csv".to_owned()],
        "attempt 1's file removed"
    );

    // Deleting a request removes every attempt's file, recorded or not.
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    let key = killed_after_upload(&app, id).await;
    // Attempt 2 fails without a file of its own; attempt 1's file is still there.
    fail_export(&app, id, "The export could not be completed.").await;
    assert!(app.state.storage.exists(&key).await.unwrap());
    let deleted = delete_export_request(&app, &cookie, id).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert!(
        !app.state.storage.exists(&key).await.unwrap(),
        "the unrecorded file went with the entry"
    );
}

async fn deleting_a_request_aborts_the_upload_a_killed_attempt_left(backend: Backend) {
    // One attempt in all, so that the lapsed lease of the first gives the request up.
    let app = TestApp::with_s3(backend, &[("WORKER_MAX_ATTEMPTS", "1")]).await;
    let (_, cookie) = setup_fixture(&app).await;
    let s3_root = s3_root();
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    // Attempt 1 sends a part and dies: its writer is never finished, aborted or dropped.
    let claim = claim_export(&app, id, Duration::from_millis(1)).await;
    let key = claim.file_key(1);
    let journal = Arc::new(Journal::new(app.state.db.clone(), id));
    // An upload to `key` with one part sent, noted in the request's journal as the worker notes it.
    let upload_a_part = async |key: &ObjectKey, byte: u8| {
        let storage = &app.state.storage;
        let mut writer = storage.writer(key, "text/csv").await.unwrap();
        writer = writer.with_journal(journal.clone());
        writer.write(&vec![byte; 5 * 1024 * 1024]).await.unwrap();
        writer
    };
    std::mem::forget(upload_a_part(&key, b'x').await);
    let uploads = noted_uploads(&app, id).await;
    let [upload] = &uploads[..] else {
        panic!("one upload noted: {uploads:?}");
    };
    let parts = || -> Vec<String> {
        files_under(&s3_root)
            .into_iter()
            .filter(|f| f.contains(upload.as_str()))
            .collect()
    };
    assert_eq!(
        parts().len(),
        3,
        "upload info, metadata and one part: {:?}",
        parts()
    );
    // And a note that outlived its upload (aborted, but the process died before forgetting it):
    // aborting what is no longer there must not keep it noted forever.
    let gone = claim.file_key(2);
    let writer = upload_a_part(&gone, b'y').await;
    let gone_upload: String = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT upload_id FROM pf_export_uploads WHERE storage_key = $1")
            .bind(gone.as_str()).fetch_one(pool).await.unwrap()
    });
    writer.abort().await;
    journal.opened(&gone, &gone_upload).await.unwrap();
    // Given up on, as the sweep of abandoned requests does once the lease has lapsed.
    let mut tx = app.state.db.begin().await.unwrap();
    let given_up = queue::fail_exhausted(&mut tx, "The export could not be completed.")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(given_up.iter().map(|c| c.id()).collect::<Vec<_>>(), [id]);
    assert_eq!(request_state(&app, id).await.status_attempt(), ("failed", 1));
    let deleted = delete_export_request(&app, &cookie, id).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert!(parts().is_empty(), "the dead upload left {:?}", parts());
    let noted = count(
        &app,
        "SELECT (SELECT COUNT(*) FROM pf_export_uploads) + (SELECT COUNT(*) FROM pf_object_deletions)",
    )
    .await;
    assert_eq!(noted, 0, "nothing left noted");
}
