//! What operators and load balancers see: `/readyz`, `/metrics`, and the request-size limit.

#![cfg(feature = "ssr")]

mod common;

use axum::body::Body;
use common::{Backend, TestApp};
use data_exports::engine::worker::{Outcome, Worker};
use http::{Request, StatusCode, header};
use serde_json::json;
use tokio_util::sync::CancellationToken;

on_both_databases!(
    readyz_says_whether_the_database_and_the_store_answer,
    metrics_count_exports_and_the_queue_without_naming_anyone,
    oversized_bodies_are_refused_with_413_and_change_nothing,
);

async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> common::TestResponse {
    let mut request = Request::get(path);
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.request(request.body(Body::empty()).unwrap()).await
}

async fn readyz_says_whether_the_database_and_the_store_answer(backend: Backend) {
    let app = TestApp::new(backend).await;
    let ready = get(&app, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    assert_eq!(
        ready.json(),
        json!({ "status": "ready", "database": "ok", "storage": "ok" })
    );

    let unreachable_store = TestApp::with_env(
        backend,
        &[
            (
                "STORAGE_URL",
                "s3://pf-exports?endpoint=http://127.0.0.1:9&region=us-east-1",
            ),
            ("S3_ACCESS_KEY_ID", "key"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
        ],
    )
    .await;
    let unready = get(&unreachable_store, "/readyz", None).await;
    assert_eq!(unready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unready.json(),
        json!({ "status": "unavailable", "database": "ok", "storage": "unavailable" })
    );
    assert!(!unready.text().contains("127.0.0.1"), "no hosts in the answer");
    // Alive is not ready: /healthz still answers.
    assert_eq!(
        get(&unreachable_store, "/healthz", None).await.status,
        StatusCode::OK
    );

    let s3 = TestApp::with_s3(backend, &[]).await;
    assert_eq!(get(&s3, "/readyz", None).await.status, StatusCode::OK);
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn metrics_count_exports_and_the_queue_without_naming_anyone(backend: Backend) {
    let app = TestApp::with_env(backend, &[("METRICS_TOKEN", "scrape-token-0123456789")]).await;
    data_exports::seed::demo(&app.state.db, 20).await.unwrap();
    assert_eq!(get(&app, "/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&app, "/metrics", Some("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );

    let cookie = app.login("admin@acme.test").await;
    for _ in 0..2 {
        let created = app
            .call_json(
                "create_export_request",
                &json!({ "request": { "export_type": "audit_trail", "export_format": "csv" } }),
                Some(&cookie),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    }
    let before = get(&app, "/metrics", Some("scrape-token-0123456789")).await;
    assert_eq!(before.status, StatusCode::OK);
    let before = before.text();
    assert_eq!(metric(&before, "exports_queue_depth{status=\"pending\"}"), 2.0);
    let completed_before = metric(&before, "exports_completed_total");
    let outcome = Worker::new(app.state.clone())
        .process_next(&CancellationToken::new())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, Outcome::Completed(_)));

    let after = get(&app, "/metrics", Some("scrape-token-0123456789"))
        .await
        .text();
    assert_eq!(metric(&after, "exports_queue_depth{status=\"pending\"}"), 1.0);
    assert_eq!(metric(&after, "exports_queue_depth{status=\"completed\"}"), 1.0);
    // Counters are per process (and other tests in this binary add to them): at least ours.
    assert!(metric(&after, "exports_completed_total") >= completed_before + 1.0);
    assert!(metric(&after, "exports_rows_total") >= 1.0);
    assert!(metric(&after, "exports_duration_seconds_count") >= 1.0);
    assert!(after.contains("exports_duration_seconds_bucket{le=\"+Inf\"}"));
    // Nothing that identifies an organisation, a user or a record.
    let organization: String = data_exports::with_db!(&app.state.db, pool => {
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM organizations LIMIT 1")
            .fetch_one(pool).await.unwrap().to_string()
    });
    assert!(!after.contains(&organization));
    assert!(!after.contains("acme"));
}

async fn oversized_bodies_are_refused_with_413_and_change_nothing(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("admin@acme.test").await;
    let padding = "x".repeat(data_exports::server::MAX_REQUEST_BODY + 1);
    let body =
        json!({ "request": { "export_type": "audit_trail", "export_format": "csv", "padding": padding } })
            .to_string();
    // Declared too large: refused before it is read.
    let declared = Request::post("/api/create_export_request")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::COOKIE, format!("exports_session={cookie}"))
        .body(Body::from(body.clone()))
        .unwrap();
    let response = app.request(declared).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: cut off while reading, still a 4xx.
    let stream = futures::stream::iter(
        body.into_bytes()
            .chunks(8192)
            .map(|chunk| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(chunk)))
            .collect::<Vec<_>>(),
    );
    let streamed = Request::post("/api/create_export_request")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, format!("exports_session={cookie}"))
        .body(Body::from_stream(stream))
        .unwrap();
    let response = app.request(streamed).await;
    assert!(
        response.status.is_client_error(),
        "{}: {}",
        response.status,
        response.text()
    );
    let rows: i64 = data_exports::with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM pf_export_requests").fetch_one(pool).await.unwrap()
    });
    assert_eq!(rows, 0);
}
