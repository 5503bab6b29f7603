//! The export lifecycle after a request is queued, on SQLite and Postgres: cancelling (pending at
//! once; processing by its worker, leaving nothing on S3; racing completion with one outcome),
//! files expiring after the organisation's retention (every attempt's object gone, 410 on
//! signing, one audit entry however many sweepers), Run again (same parameters, same limits, no
//! duplicates), and the row actions as plain forms without JavaScript.

#![cfg(feature = "ssr")]

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use common::{
    Backend, RequestStatus, TestApp, TestResponse, TestServer, claim_export, complete_export, count_for,
    create_export, create_export_request, env_refs, eventually, export_request, fail_export, fetch,
    files_under, form_encode, id_of, killed_after_upload, list_export_requests, noted_uploads,
    request_exists, request_state, s3_env, s3_root, sign_download_url, work,
};
use data_exports::{
    exports::{
        lifecycle::{self, NotCancelled},
        model::{Cancelled, ExportStatus},
        queue::{self, Completion},
    },
    routes, with_db,
};
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

on_both_databases!(
    a_pending_export_is_cancelled_at_once_and_stops_counting,
    only_the_requester_and_deleters_may_cancel,
    a_processing_export_is_stopped_by_its_worker_leaving_nothing_on_s3,
    a_cancel_racing_completion_has_exactly_one_outcome,
    a_completed_file_expires_and_every_attempts_object_is_gone,
    a_file_expires_on_s3_too,
    concurrent_sweepers_expire_and_audit_each_file_once,
    the_retention_is_chosen_by_admins_and_redates_files,
    run_again_repeats_the_request_under_the_same_limits_without_duplicates,
    concurrent_runs_again_queue_one_request,
    row_actions_work_as_plain_forms_without_javascript,
);

async fn cancel(app: &TestApp, cookie: &str, id: Uuid) -> TestResponse {
    app.call("cancel_export_request", &[("id", &id.to_string())], Some(cookie))
        .await
}

async fn run_again(app: &TestApp, cookie: &str, id: Uuid) -> TestResponse {
    app.call("run_export_again", &[("id", &id.to_string())], Some(cookie))
        .await
}

async fn audit_payloads(app: &TestApp, event: &str) -> Vec<Value> {
    let payloads: Vec<sqlx::types::Json<Value>> = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT payload FROM pf_audit_logs WHERE event = $1 ORDER BY id")
            .bind(event)
            .fetch_all(pool)
            .await
            .unwrap()
    });
    payloads.into_iter().map(|payload| payload.0).collect()
}

/// The list row of request `id`, as the client receives it.
async fn listed(app: &TestApp, cookie: &str, id: Uuid) -> Value {
    let list = list_export_requests(app, cookie).await.json();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id.to_string())
        .cloned()
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))
}

async fn a_pending_export_is_cancelled_at_once_and_stops_counting(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("EXPORT_MAX_ACTIVE_PER_ORGANIZATION", "1")], 30).await;
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    // At the limit of one active export.
    let refused = create_export_request(&app, &cookie, "selected_records", "csv", &["staff"]).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );

    let response = cancel(&app, &cookie, id).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json(), json!("Now"));
    let state = request_state(&app, id).await;
    assert_eq!(state.status(), "cancelled");
    assert!(state.request.completed_at.is_some());
    assert_eq!(listed(&app, &cookie, id).await["status"], "cancelled");
    assert_eq!(
        list_export_requests(&app, &cookie).await.json()["has_active"],
        false
    );
    // Cancelling again is harmless and audited once.
    assert_eq!(cancel(&app, &cookie, id).await.json(), json!("Now"));
    let audited = audit_payloads(&app, "export_request_cancelled").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["was"], "pending");
    // It no longer counts against the active limit, and no worker takes it.
    let other = create_export(&app, &cookie, "selected_records", "csv", &["staff"]).await;
    work(&app).await;
    assert_eq!(request_state(&app, other).await.status(), "completed");
    assert_eq!(request_state(&app, id).await.status(), "cancelled");
    // A finished export cannot be cancelled: the answer says so.
    let late = cancel(&app, &cookie, other).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(
        late.json()["message"]
            .as_str()
            .unwrap()
            .contains("had already finished"),
        "{}",
        late.text()
    );
    assert_eq!(request_state(&app, other).await.status(), "completed");
}

async fn only_the_requester_and_deleters_may_cancel(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    let finance = app.login("finance@acme.test").await;
    let staff = app.login("staff@acme.test").await;
    let by_admin = create_export(&app, &admin, "selected_records", "csv", &["clients"]).await;
    let by_finance = create_export(&app, &finance, "selected_records", "csv", &["clients"]).await;
    // Finance may not cancel the admin's export (no delete permission), staff no one's.
    for (cookie, id) in [(&finance, by_admin), (&staff, by_finance)] {
        let refused = cancel(&app, cookie, id).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
        assert_eq!(request_state(&app, id).await.status(), "pending");
    }
    // Finance may cancel its own; the admin anyone's.
    assert_eq!(cancel(&app, &finance, by_finance).await.status, StatusCode::OK);
    assert_eq!(cancel(&app, &admin, by_admin).await.status, StatusCode::OK);
    // Another organisation's export is not found.
    let globex = app.login("admin@globex.test").await;
    let other = create_export(&app, &globex, "selected_records", "csv", &["clients"]).await;
    assert_eq!(cancel(&app, &admin, other).await.status, StatusCode::NOT_FOUND);
    assert_eq!(request_state(&app, other).await.status(), "pending");
}

async fn a_processing_export_is_stopped_by_its_worker_leaving_nothing_on_s3(backend: Backend) {
    let s3_root = s3_root();
    let s3 = s3_env().await;
    // Enough rows for a JSON file of several 5 MiB parts.
    let app = TestApp::seeded_with(backend, &env_refs(&s3), 40_000).await;
    let mut env = s3.clone();
    env.extend([
        ("DATABASE_URL", app.state.config.server.database_url.clone()),
        ("EXPORT_BATCH_ROWS", "20".to_owned()),
        ("WORKER_POLL_SECS", "1".to_owned()),
        ("WORKER_CONCURRENCY", "1".to_owned()),
    ]);
    let _worker = TestServer::worker("cancel-processing", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "full_organization", "json", &[]).await;
    let first_part = |upload: &str| s3_root.join(format!(".upload_id-{upload}.part-1"));
    let upload = eventually(
        Duration::from_secs(120),
        Duration::from_millis(20),
        "the worker sending a part",
        async || {
            let status = request_state(&app, id).await.status();
            assert!(
                status == "pending" || status == "processing",
                "{status}: slow it down"
            );
            noted_uploads(&app, id)
                .await
                .pop()
                .filter(|upload| first_part(upload).exists())
        },
    )
    .await;
    let asked = Instant::now();
    let response = cancel(&app, &cookie, id).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json(), json!("Stopping"));
    // Until the worker notices, the row says so.
    let row = listed(&app, &cookie, id).await;
    assert!(
        row["status"] == "cancelled" || (row["status"] == "processing" && row["cancel_requested"] == true),
        "{row}"
    );
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(20),
        "the worker stopping",
        async || (request_state(&app, id).await.status() == "cancelled").then_some(()),
    )
    .await;
    eprintln!("cancelled {:?} after it was asked", asked.elapsed());
    // No object, no open upload, nothing noted.
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(50),
        "the upload aborted",
        async || {
            let leftovers: Vec<String> = files_under(&s3_root)
                .into_iter()
                .filter(|file| file.contains(&upload) || file.contains(&id.to_string()))
                .collect();
            let noted = count_for(
                &app,
                "SELECT COUNT(*) FROM pf_object_deletions WHERE export_request_id = $1",
                id,
            )
            .await;
            let uploads = noted_uploads(&app, id).await;
            (leftovers.is_empty() && noted == 0 && uploads.is_empty()).then_some(())
        },
    )
    .await;
    assert_eq!(app.audit_count("export_request_cancelled").await, 1);
    assert_eq!(app.audit_count("export_request_completed").await, 0);
    assert_eq!(app.audit_count("export_request_failed").await, 0);
    let signed = sign_download_url(&app, &cookie, id).await;
    assert_eq!(signed.status, StatusCode::CONFLICT, "{}", signed.text());
}

fn completion(key: String, expires_at: chrono::DateTime<chrono::Utc>) -> Completion {
    Completion {
        storage_key: key,
        file_name: "export.csv".into(),
        row_count: 1,
        file_size_bytes: 3,
        execution_time_ms: 1,
        sha256: "0".repeat(64),
        row_counts: Default::default(),
        snapshot_at: chrono::Utc::now(),
        completed_at: data_exports::db::now(),
        expires_at,
    }
}

async fn a_cancel_racing_completion_has_exactly_one_outcome(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("admin@acme.test").await;
    let admin = common::user_id(&app, "admin@acme.test").await;
    let organization = common::organization_id(&app, common::ACME).await;
    let actor = Actor { organization, admin };
    let week = chrono::Utc::now() + chrono::TimeDelta::days(7);
    let (mut cancels_won, mut completions_won) = (0, 0);
    for _ in 0..12 {
        let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
        let claim = claim_export(&app, id, Duration::from_secs(30)).await;
        let key = claim.file_key(claim.attempt);
        let done = completion(key.as_str().to_owned(), week);
        let db = app.state.db.clone();
        // Both at once: the worker recording its completion, the user cancelling.
        let (completed, cancelled) = tokio::join!(
            async {
                let mut tx = db.begin().await.unwrap();
                let completed = queue::complete(&mut tx, &claim, &done).await.unwrap();
                tx.commit().await.unwrap();
                if !completed {
                    // As the worker does when its outcome is refused.
                    let mut tx = db.begin().await.unwrap();
                    assert!(
                        queue::finish_cancelled(&mut tx, &claim).await.unwrap(),
                        "a cancel refused it"
                    );
                    tx.commit().await.unwrap();
                }
                completed
            },
            lifecycle::cancel(&app.state.db, &actor, id),
        );
        let status = request_state(&app, id).await.request.status;
        match cancelled.unwrap() {
            Ok(Cancelled::Stopping) => {
                assert!(!completed);
                assert_eq!(status, ExportStatus::Cancelled);
                cancels_won += 1;
            }
            Err(NotCancelled::Finished(ExportStatus::Completed)) => {
                assert!(completed);
                assert_eq!(status, ExportStatus::Completed);
                completions_won += 1;
            }
            other => panic!("unexpected: {other:?} with the request {status:?}"),
        }
    }
    eprintln!("cancel won {cancels_won}, completion won {completions_won}");
    assert_eq!(app.audit_count("export_request_cancelled").await, cancels_won);
    assert_eq!(
        count_for(
            &app,
            "SELECT COUNT(*) FROM pf_export_requests WHERE organization_id = $1 AND status = 'cancelled'",
            organization
        )
        .await,
        cancels_won
    );
}

/// The demo admin, acting through `lifecycle` directly.
struct Actor {
    organization: Uuid,
    admin: Uuid,
}

impl data_exports::audit::Actor for Actor {
    fn organization_id(&self) -> Uuid {
        self.organization
    }
    fn user_id(&self) -> Uuid {
        self.admin
    }
}

/// Runs the expiry sweep until request `id` is expired (its retention is a second).
async fn swept_until_expired(app: &TestApp, id: Uuid) {
    eventually(
        Duration::from_secs(20),
        Duration::from_millis(100),
        "the file expiring",
        async || {
            for expired in lifecycle::expire_due(&app.state.db).await.unwrap() {
                data_exports::exports::deletions::sweep(
                    &app.state.db,
                    &app.state.storage,
                    &app.state.config.worker.retry,
                    Some(expired),
                )
                .await
                .unwrap();
            }
            (request_state(app, id).await.status() == "expired").then_some(())
        },
    )
    .await;
}

async fn expires_everywhere(app: TestApp) {
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    // Attempt 1 uploaded and died; attempt 2 completed: two objects.
    killed_after_upload(&app, id).await;
    complete_export(&app, id, b"id\n1\n").await;
    let state = request_state(&app, id).await;
    let prefix = format!("{}/{id}", state.organization_id);
    assert_eq!(app.objects(&prefix).len(), 2, "{:?}", app.objects(&prefix));
    let expires_at = state.request.expires_at.expect("dated at completion");
    let completed_at = state.request.completed_at.unwrap();
    assert!(expires_at > completed_at && expires_at - completed_at <= chrono::TimeDelta::seconds(2));
    assert_eq!(sign_download_url(&app, &cookie, id).await.status, StatusCode::OK);

    swept_until_expired(&app, id).await;
    assert!(app.objects(&prefix).is_empty(), "{:?}", app.objects(&prefix));
    let signed = sign_download_url(&app, &cookie, id).await;
    assert_eq!(signed.status, StatusCode::GONE, "{}", signed.text());
    let message = signed.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("expired") && message.contains("Run the export again"),
        "{message}"
    );
    // The row stays as history.
    let row = listed(&app, &cookie, id).await;
    assert_eq!(row["status"], "expired");
    let audited = audit_payloads(&app, "export_request_expired").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["export_request_id"], id.to_string());
    // Expired files stop counting against the quota at once.
    let stored: i64 = count_for(
        &app,
        "SELECT CAST(COALESCE(SUM(file_size_bytes), 0) AS BIGINT) FROM pf_export_requests \
         WHERE organization_id = $1 AND status = 'completed'",
        state.organization_id,
    )
    .await;
    assert_eq!(stored, 0);
}

async fn a_completed_file_expires_and_every_attempts_object_is_gone(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("EXPORT_RETENTION_SECS", "1")], 30).await;
    expires_everywhere(app).await;
}

async fn a_file_expires_on_s3_too(backend: Backend) {
    let app = TestApp::with_s3(backend, &[("EXPORT_RETENTION_SECS", "1")]).await;
    data_exports::seed::demo(&app.state.db, 30).await.unwrap();
    expires_everywhere(app).await;
}

async fn concurrent_sweepers_expire_and_audit_each_file_once(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("EXPORT_RETENTION_SECS", "1")], 30).await;
    let ids = common::enqueue(&app, 60).await;
    for id in &ids {
        complete_export(&app, *id, b"id\n").await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let sweepers: Vec<_> = (0..4)
        .map(|_| {
            let db = app.state.db.clone();
            tokio::spawn(async move {
                let mut expired = Vec::new();
                loop {
                    let batch = lifecycle::expire_due(&db).await.unwrap();
                    if batch.is_empty() {
                        return expired;
                    }
                    expired.extend(batch);
                }
            })
        })
        .collect();
    let mut expired = Vec::new();
    for sweeper in sweepers {
        expired.extend(sweeper.await.unwrap());
    }
    let total = expired.len();
    expired.sort();
    expired.dedup();
    assert_eq!(
        (total, expired.len()),
        (ids.len(), ids.len()),
        "each file expired by exactly one sweeper"
    );
    assert_eq!(app.audit_count("export_request_expired").await, ids.len() as i64);
    for id in &ids {
        assert_eq!(request_state(&app, *id).await.status(), "expired");
    }
}

async fn the_retention_is_chosen_by_admins_and_redates_files(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    let finance = app.login("finance@acme.test").await;
    let list = list_export_requests(&app, &admin).await.json();
    assert_eq!(
        list["retention"],
        json!({ "secs": 7 * 24 * 3600, "chosen": false })
    );
    let id = create_export(&app, &admin, "selected_records", "csv", &["clients"]).await;
    complete_export(&app, id, b"id\n").await;
    let completed_at = request_state(&app, id).await.request.completed_at.unwrap();

    let set = |cookie: String, hours: &'static str| {
        let app = &app;
        async move {
            app.call("set_export_retention", &[("hours", hours)], Some(&cookie))
                .await
        }
    };
    assert_eq!(set(finance.clone(), "24").await.status, StatusCode::FORBIDDEN);
    for bad in ["0", "721", "-3", "a day", ""] {
        let refused = set(admin.clone(), bad).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.text()
        );
        assert_eq!(refused.json()["field"], "hours", "{bad}");
    }
    let response = set(admin.clone(), "2").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json(), json!({ "secs": 7200, "chosen": true }));
    // The file already made is re-dated from its completion.
    let expires_at = request_state(&app, id).await.request.expires_at.unwrap();
    assert_eq!(expires_at, completed_at + chrono::TimeDelta::hours(2));
    assert_eq!(app.audit_count("export_retention_changed").await, 1);
    // Another organisation keeps its default.
    let globex = app.login("admin@globex.test").await;
    assert_eq!(
        list_export_requests(&app, &globex).await.json()["retention"]["chosen"],
        false
    );
}

async fn run_again_repeats_the_request_under_the_same_limits_without_duplicates(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("EXPORT_MAX_ACTIVE_PER_ORGANIZATION", "2")], 30).await;
    let admin = app.login("admin@acme.test").await;
    let mut body = export_request("selected_records", "xlsx", &["appointments", "clients"]);
    body["request"]["date_from"] = json!("2026-01-01");
    body["request"]["date_to"] = json!("2026-03-31");
    body["request"]["columns"] = json!({ "clients": ["id", "first_name"] });
    let created = app.call_json("create_export_request", &body, Some(&admin)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let original = id_of(&created);
    // Only ended exports run again.
    let early = run_again(&app, &admin, original).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text());
    fail_export(&app, original, "The export failed.").await;

    let staff = app.login("staff@acme.test").await;
    assert_eq!(
        run_again(&app, &staff, original).await.status,
        StatusCode::FORBIDDEN
    );
    let again = run_again(&app, &admin, original).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let rerun: Uuid = serde_json::from_value(again.json()["Queued"].clone()).expect("queued");
    let (before, after) = (
        request_state(&app, original).await,
        request_state(&app, rerun).await,
    );
    assert_eq!(
        after.spec, before.spec,
        "same type, format, record types, columns, dates, purpose, recipient"
    );
    assert_eq!(after.time_zone, before.time_zone);
    assert_eq!(after.request.rerun_of, Some(original));
    assert_eq!(after.status(), "pending");
    let created = audit_payloads(&app, "export_request_created").await;
    assert_eq!(created.last().unwrap()["rerun_of"], original.to_string());

    // The same again while the rerun waits: nothing new, the waiting one named.
    let duplicate = run_again(&app, &admin, original).await;
    assert_eq!(duplicate.json(), json!({ "AlreadyQueued": rerun.to_string() }));
    let organization = after.organization_id;
    let total = || {
        count_for(
            &app,
            "SELECT COUNT(*) FROM pf_export_requests WHERE organization_id = $1",
            organization,
        )
    };
    assert_eq!(total().await, 2);

    // Limits apply: with two active, a third run again is refused.
    let other = create_export(&app, &admin, "selected_records", "csv", &["staff"]).await;
    assert_eq!(cancel(&app, &admin, rerun).await.status, StatusCode::OK);
    let third = create_export(&app, &admin, "selected_records", "csv", &["claims"]).await;
    let limited = run_again(&app, &admin, original).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text()
    );
    assert!(request_exists(&app, other).await && request_exists(&app, third).await);
    assert_eq!(total().await, 4);
}

async fn concurrent_runs_again_queue_one_request(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::seeded(backend).await);
    let admin = app.login("admin@acme.test").await;
    let original = create_export(&app, &admin, "selected_records", "csv", &["clients"]).await;
    fail_export(&app, original, "The export failed.").await;
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let (app, admin) = (app.clone(), admin.clone());
            tokio::spawn(async move { run_again(&app, &admin, original).await.json() })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap());
    }
    let queued: Vec<&Value> = answers.iter().filter_map(|answer| answer.get("Queued")).collect();
    let already: Vec<&Value> = answers
        .iter()
        .filter_map(|answer| answer.get("AlreadyQueued"))
        .collect();
    assert_eq!((queued.len(), already.len()), (1, 5), "{answers:?}");
    assert!(already.iter().all(|id| *id == queued[0]), "{answers:?}");
    assert_eq!(app.audit_count("export_request_created").await, 2);
}

/// POSTs a plain HTML form (JavaScript off) to `path`, signed in with `cookie`.
async fn form_post(app: &TestApp, path: &str, form: &[(&str, &str)], cookie: &str) -> TestResponse {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, "http://127.0.0.1:3000/settings/exports")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::COOKIE, format!("exports_session={cookie}"));
    app.request(request.body(Body::from(form_encode(form))).unwrap())
        .await
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let request = Request::get(path)
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, format!("exports_session={cookie}"));
    let response = app.request(request.body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
    response.text()
}

fn location(response: &TestResponse) -> &str {
    response.headers[header::LOCATION].to_str().unwrap()
}

async fn row_actions_work_as_plain_forms_without_javascript(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("EXPORT_RETENTION_SECS", "2")], 30).await;
    let cookie = app.login("admin@acme.test").await;
    let completed = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    complete_export(&app, completed, b"id\n1\n").await;

    // Download: 303 to a fresh signed link, which serves the file; audited like the button.
    let action = format!("/settings/exports/{completed}/download");
    let answer = form_post(&app, &action, &[], &cookie).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    assert_eq!(fetch(&app, location(&answer), None).await.body, b"id\n1\n");
    assert_eq!(app.audit_count("export_downloaded").await, 1);
    // Signed out: to the sign-in page; another organisation's: a page saying it is not found.
    let signed_out = app
        .request(Request::post(&action).body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (signed_out.status, location(&signed_out)),
        (StatusCode::SEE_OTHER, "/login")
    );
    let globex = app.login("admin@globex.test").await;
    let foreign = form_post(&app, &action, &[], &globex).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert!(foreign.text().contains("Not found.") && foreign.text().contains("Back to Data Exports"));

    // The confirmation pages render on the server with their forms.
    let pending = create_export(&app, &cookie, "selected_records", "csv", &["staff"]).await;
    let cancel_page = page(&app, &format!("/settings/exports/{pending}/cancel"), &cookie).await;
    assert!(cancel_page.contains("Cancel this export?"), "{cancel_page}");
    assert!(
        cancel_page.contains("action=\"/api/cancel_export_request\""),
        "{cancel_page}"
    );
    let delete_page = page(&app, &format!("/settings/exports/{completed}/delete"), &cookie).await;
    assert!(delete_page.contains("Delete this export?"), "{delete_page}");

    // Cancel, then Run again, then Delete, each a plain form answered with the list.
    let id = pending.to_string();
    let cancelled = form_post(&app, "/api/cancel_export_request", &[("id", &id)], &cookie).await;
    assert_eq!(
        (cancelled.status, location(&cancelled)),
        (StatusCode::SEE_OTHER, "/settings/exports")
    );
    assert_eq!(request_state(&app, pending).await.status(), "cancelled");
    let again = form_post(&app, "/api/run_export_again", &[("id", &id)], &cookie).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text());
    let rerun = location(&again)
        .strip_prefix("/settings/exports?highlight=")
        .expect("the list, pointing at the new request")
        .parse::<Uuid>()
        .unwrap();
    assert_eq!(request_state(&app, rerun).await.request.rerun_of, Some(pending));
    let list_page = page(&app, location(&again), &cookie).await;
    assert!(list_page.contains("Queued again."), "the notice");
    assert!(list_page.contains("class=\"highlighted\""), "the highlighted row");
    // Only the islands come alive in the browser (Download among them, given its request); the
    // list itself is HTML, with no copy of its data for a hydration that never comes.
    let download_island = format!("data-props=\"{{&quot;id&quot;:&quot;{completed}&quot;}}\"");
    assert!(
        list_page.contains(&download_island),
        "the Download island: {list_page}"
    );
    assert!(
        !list_page.contains("__RESOLVED_RESOURCES["),
        "data for hydration: {list_page}"
    );
    // New Export leads to the list pointing at what it created (the dialog is an island).
    let requested = routes::highlighted_export(rerun, routes::Highlight::Requested);
    assert!(
        page(&app, &requested, &cookie)
            .await
            .contains("Export requested. It is highlighted below.")
    );
    let deleted = form_post(&app, "/api/delete_export_request", &[("id", &id)], &cookie).await;
    assert_eq!(
        (deleted.status, location(&deleted)),
        (StatusCode::SEE_OTHER, "/settings/exports")
    );
    assert!(!request_exists(&app, pending).await);

    // Once expired, the download form answers 410 with the sentence.
    swept_until_expired(&app, completed).await;
    let gone = form_post(&app, &action, &[], &cookie).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(gone.text().contains("expired"), "{}", gone.text());
}
