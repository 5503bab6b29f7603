//! Export requests: created, read back, moved on through the queue's own functions or the worker, downloaded.

use std::time::Duration;

use chrono::{DateTime, Utc};
use data_exports::{
    engine::worker::{Outcome, Worker, WorkerContext},
    exports::{
        catalog, lifecycle,
        model::NewExport,
        queue::{self, Claim, Completion},
        repo,
        stored::{COLUMNS, StoredRequest, download_name},
    },
    records::EntityType,
    storage::ObjectKey,
    with_db,
};
use http::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{ACME, HasDb, TestApp, TestResponse, count_for, eventually, fetch, organization_id, user_id};

/// The purpose and recipient the tests' identified exports state.
pub const PURPOSE: &str = "health_care_operations";
pub const RECIPIENT: &str = "internal: quality team";

/// The body `create_export_request` takes; a purpose and recipient are stated for every type
/// but the de-identified dataset (which needs none).
pub fn export_request(export_type: &str, format: &str, entities: &[&str]) -> serde_json::Value {
    let mut request =
        json!({ "export_type": export_type, "export_format": format, "entity_types": entities });
    if export_type != "deidentified_dataset" {
        request["purpose"] = json!(PURPOSE);
        request["recipient"] = json!(RECIPIENT);
    }
    json!({ "request": request })
}

/// Asks for an export through the server function, signed in with `cookie`.
pub async fn create_export_request(
    app: &TestApp,
    cookie: &str,
    export_type: &str,
    format: &str,
    entities: &[&str],
) -> TestResponse {
    let body = export_request(export_type, format, entities);
    app.call_json("create_export_request", &body, Some(cookie)).await
}

/// Asks for an export that must be accepted; returns its id.
pub async fn create_export(
    app: &TestApp,
    cookie: &str,
    export_type: &str,
    format: &str,
    entities: &[&str],
) -> Uuid {
    let response = create_export_request(app, cookie, export_type, format, entities).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    id_of(&response)
}

/// The id of the request a `create_export_request` response describes.
pub fn id_of(response: &TestResponse) -> Uuid {
    response.json()["id"].as_str().unwrap().parse().unwrap()
}

/// `n` requests of the demo's Acme admin for a CSV of clients, queued straight through
/// `repo::insert_in` (no limits) with the app's attempt budget.
pub async fn enqueue(app: &TestApp, n: usize) -> Vec<Uuid> {
    enqueue_in(app, ACME, "admin@acme.test", n).await
}

/// As [`enqueue`], for organisation `slug` by its member `email`.
pub async fn enqueue_in(app: &TestApp, slug: &str, email: &str, n: usize) -> Vec<Uuid> {
    let organization = organization_id(app, slug).await;
    let user = user_id(app, email).await;
    let export = catalog::validate(&NewExport {
        export_type: "selected_records".into(),
        export_format: "csv".into(),
        entity_types: vec!["clients".into()],
        purpose: PURPOSE.into(),
        recipient: RECIPIENT.into(),
        ..NewExport::default()
    })
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut tx = app.state.db.begin().await.unwrap();
        let max_attempts = app.state.config.worker.retry.max_attempts;
        let created = repo::insert_in(&mut tx, organization, user, &export, max_attempts, None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ids.push(created.id);
    }
    ids
}

/// One request, as [`enqueue`] queues them.
pub async fn enqueue_one(app: &TestApp) -> Uuid {
    enqueue(app, 1).await[0]
}

/// Request `id` as stored, decoded as the app decodes it.
pub async fn request_state(on: &impl HasDb, id: Uuid) -> StoredRequest {
    with_db!(on.db(), pool => {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM pf_export_requests WHERE id = $1"))
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// What assertions read of a stored request's status.
pub trait RequestStatus {
    /// Its status's key: `pending`, `processing`, `completed` or `failed`.
    fn status(&self) -> &'static str;

    /// Its status and attempt, the pair most assertions are about.
    fn status_attempt(&self) -> (&'static str, i32);
}

impl RequestStatus for StoredRequest {
    fn status(&self) -> &'static str {
        self.request.status.key()
    }

    fn status_attempt(&self) -> (&'static str, i32) {
        (self.status(), self.attempt)
    }
}

/// When request `id`'s lease runs out (while claimed), and when it may run (again).
pub async fn lease_and_run_at(on: &impl HasDb, id: Uuid) -> (Option<DateTime<Utc>>, DateTime<Utc>) {
    with_db!(on.db(), pool => {
        sqlx::query_as("SELECT lease_expires_at, run_at FROM pf_export_requests WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// Whether request `id` is still in the history.
pub async fn request_exists(on: &impl HasDb, id: Uuid) -> bool {
    count_for(on, "SELECT COUNT(*) FROM pf_export_requests WHERE id = $1", id).await == 1
}

/// Claims request `id` as a worker would, under `lease` and the app's retry policy, once it is
/// runnable; it must be the oldest runnable request.
pub async fn claim_export(app: &TestApp, id: Uuid, lease: Duration) -> Claim {
    let db = &app.state.db;
    let retry = &app.state.config.worker.retry;
    let claim = eventually(
        Duration::from_secs(30),
        Duration::from_millis(10),
        "a runnable request",
        async || queue::claim(db, "test-worker", lease, retry).await.unwrap(),
    )
    .await;
    assert_eq!(claim.id(), id, "the oldest runnable request is another");
    claim
}

/// Request `id` completed with `contents` as its file, stored and named as the worker would
/// (through `queue::claim` and `queue::complete`, without producing it). Returns the file's key.
pub async fn complete_export(app: &TestApp, id: Uuid, contents: &[u8]) -> ObjectKey {
    let db = &app.state.db;
    let claim = claim_export(app, id, app.state.config.worker.lease).await;
    let key = claim.file_key(claim.attempt);
    let mut writer = app.state.storage.writer(&key, "text/csv").await.unwrap();
    writer.write(contents).await.unwrap();
    writer.finish().await.unwrap();
    let slug = repo::organization_slug(db, claim.organization_id).await.unwrap();
    let done = Completion {
        storage_key: key.as_str().to_owned(),
        file_name: download_name(&slug, &claim.spec, Utc::now().date_naive()),
        row_count: 1,
        file_size_bytes: contents.len() as i64,
        execution_time_ms: 1,
        sha256: format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(contents)),
        row_counts: Default::default(),
        snapshot_at: Utc::now(),
        completed_at: data_exports::db::now(),
        expires_at: lifecycle::expiry_from_now(db, claim.organization_id, app.state.config.worker.retention)
            .await
            .unwrap(),
    };
    assert!(queue::complete(db, &claim, &done).await.unwrap(), "completed");
    key
}

/// Request `id` failed for good with `message` (through `queue::claim` and `queue::fail`).
pub async fn fail_export(app: &TestApp, id: Uuid, message: &str) {
    let claim = claim_export(app, id, app.state.config.worker.lease).await;
    assert!(
        queue::fail(&app.state.db, &claim, message).await.unwrap(),
        "failed"
    );
}

/// Attempt 1 of request `id` claims it, uploads its file and is SIGKILLed before recording it
/// (its lease runs out at once). Returns its file's key.
pub async fn killed_after_upload(app: &TestApp, id: Uuid) -> ObjectKey {
    let claim = claim_export(app, id, Duration::from_millis(1)).await;
    assert_eq!(claim.attempt, 1);
    let key = claim.file_key(1);
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"id\n"))]);
    app.state
        .storage
        .put_stream(&key, "text/csv", body)
        .await
        .unwrap();
    key
}

/// Lets the app's worker take the next request, which must be runnable now; returns how it ended.
pub async fn work(app: &TestApp) -> Outcome {
    Worker::new(WorkerContext::of(&app.state))
        .process_next(&CancellationToken::new())
        .await
        .unwrap()
        .expect("a request to work on")
}

/// Lets the app's worker take the next request once one is runnable (its back-off passed).
pub async fn next_attempt(app: &TestApp) -> Outcome {
    let worker = Worker::new(WorkerContext::of(&app.state));
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(50),
        "a runnable request",
        async || worker.process_next(&CancellationToken::new()).await.unwrap(),
    )
    .await
}

/// The newest page of the exports table of the user signed in with `cookie`.
pub async fn list_export_requests(app: &TestApp, cookie: &str) -> TestResponse {
    list_page(app, cookie, &[]).await
}

/// A page of the exports table by its cursors (`before`, `after`).
pub async fn list_page(app: &TestApp, cookie: &str, position: &[(&str, &str)]) -> TestResponse {
    app.call("list_export_requests", position, Some(cookie)).await
}

/// Asks for a download link to request `id`.
pub async fn sign_download_url(app: &TestApp, cookie: &str, id: Uuid) -> TestResponse {
    app.call("sign_download_url", &[("id", &id.to_string())], Some(cookie))
        .await
}

/// The details of request `id`.
pub async fn export_request_details(app: &TestApp, cookie: &str, id: Uuid) -> TestResponse {
    app.call("export_request_details", &[("id", &id.to_string())], Some(cookie))
        .await
}

/// Deletes request `id` from the history.
pub async fn delete_export_request(app: &TestApp, cookie: &str, id: Uuid) -> TestResponse {
    app.call("delete_export_request", &[("id", &id.to_string())], Some(cookie))
        .await
}

/// Signs a download link for request `id` and fetches the file through it.
pub async fn download(app: &TestApp, cookie: &str, id: Uuid) -> Vec<u8> {
    let signed = sign_download_url(app, cookie, id).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text());
    let url: String = serde_json::from_value(signed.json()).unwrap();
    let file = fetch(app, &url, None).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    file.body
}

/// The multipart uploads noted open for request `id` (their upload ids).
pub async fn noted_uploads(app: &TestApp, id: Uuid) -> Vec<String> {
    with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT upload_id FROM pf_export_uploads WHERE export_request_id = $1")
            .bind(id)
            .fetch_all(pool)
            .await
            .unwrap()
    })
}
