//! What operators and load balancers see: `/readyz`, `/metrics`, and the request-size limit.

#![cfg(feature = "ssr")]

mod common;

use std::time::Duration;

use axum::body::Body;
use common::{
    ACME, Backend, TestApp, TestServer, count, create_export, eventually, export_request, http_client,
    organization_id, session_cookie, user_id, work,
};
use data_exports::engine::worker::Outcome;
use http::{Request, StatusCode, header};
use serde_json::json;

on_both_databases!(
    readyz_says_whether_the_database_and_the_store_answer,
    metrics_count_exports_and_the_queue_without_naming_anyone,
    oversized_bodies_are_refused_with_413_and_change_nothing,
    a_full_run_is_audited_once_per_event_and_its_logs_hold_no_phi_or_secret,
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

    let unreachable_store = TestApp::with_unreachable_store(backend).await;
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

    // A probe's answer is reused for a second: a flood of /readyz probes the store once a second.
    // The local store's bucket turned into a file is not ready, but only the next probe sees it.
    assert_eq!(get(&app, "/readyz", None).await.status, StatusCode::OK);
    let bucket = app.local_bucket();
    std::fs::remove_dir_all(&bucket).unwrap();
    std::fs::write(&bucket, b"not a directory").unwrap();
    assert_eq!(get(&app, "/readyz", None).await.status, StatusCode::OK, "cached");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        get(&app, "/readyz", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn metrics_count_exports_and_the_queue_without_naming_anyone(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("METRICS_TOKEN", "scrape-token-0123456789")], 20).await;
    assert_eq!(get(&app, "/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&app, "/metrics", Some("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );

    let cookie = app.login("admin@acme.test").await;
    for _ in 0..2 {
        create_export(&app, &cookie, "audit_trail", "csv", &[]).await;
    }
    let before = get(&app, "/metrics", Some("scrape-token-0123456789")).await;
    assert_eq!(before.status, StatusCode::OK);
    let before = before.text();
    assert_eq!(metric(&before, "exports_queue_depth{status=\"pending\"}"), 2.0);
    let completed_before = metric(&before, "exports_completed_total");
    assert!(matches!(work(&app).await, Outcome::Completed(_)));

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
    for slug in [ACME, "globex-clinic"] {
        let organization = organization_id(&app, slug).await;
        assert!(!after.contains(&organization.to_string()), "{slug}");
    }
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
    assert_eq!(count(&app, "SELECT COUNT(*) FROM pf_export_requests").await, 0);
}

async fn a_full_run_is_audited_once_per_event_and_its_logs_hold_no_phi_or_secret(backend: Backend) {
    use data_exports::{db::Db, with_db};
    let url = common::fresh_database_url(backend).await;
    let mut server = TestServer::start(
        &format!("full-run-{backend:?}"),
        &[
            ("DATABASE_URL", &url),
            ("SEED_DEMO", "true"),
            ("RUST_LOG", "debug,sqlx=info,hyper=info,h2=info"),
        ],
    );
    let db = Db::connect(&url, 2).await.unwrap();
    let client = http_client();
    let form = |endpoint: &str, body: &[(&str, &str)], cookie: Option<&str>| {
        let mut request = client
            .post(server.url(&format!("/api/{endpoint}")))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(common::form_encode(body));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, format!("exports_session={cookie}"));
        }
        request.send()
    };
    let wrong = form(
        "login",
        &[("email", "admin@acme.test"), ("password", "wrong-password-42")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let signed_in = form(
        "login",
        &[("email", "admin@acme.test"), ("password", "demo-password")],
        None,
    )
    .await
    .unwrap();
    let token = session_cookie(signed_in.headers()).expect("a session cookie");
    let organization_id = organization_id(&db, ACME).await;
    let admin_id = user_id(&db, "admin@acme.test").await;
    // One appointment note too long for a spreadsheet cell: the XLSX export will fail. (No
    // function of the app writes records: exports only read them.)
    with_db!(&db, pool => {
        sqlx::query(
            "UPDATE appointments SET notes = $1 WHERE id = \
             (SELECT id FROM appointments WHERE organization_id = $2 ORDER BY id LIMIT 1)",
        )
        .bind("n".repeat(40_000))
        .bind(organization_id)
        .execute(pool).await.unwrap();
    });
    let mut ids = Vec::new();
    for request in [
        export_request("selected_records", "csv", &["clients", "staff"]),
        export_request("deidentified_dataset", "json", &["clients"]),
        export_request("selected_records", "xlsx", &["appointments"]),
    ] {
        let created = client
            .post(server.url("/api/create_export_request"))
            .header(header::COOKIE, format!("exports_session={token}"))
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::OK);
        let created: serde_json::Value = created.json().await.unwrap();
        ids.push(uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap());
    }
    eventually(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "the exports finishing",
        async || {
            let finished = "SELECT COUNT(*) FROM pf_export_requests WHERE status IN ('completed', 'failed')";
            (count(&db, finished).await == 3).then_some(())
        },
    )
    .await;
    // Download each completed export twice (each click signs anew), then delete the first.
    for id in &ids[..2] {
        for _ in 0..2 {
            let signed = form("sign_download_url", &[("id", &id.to_string())], Some(&token))
                .await
                .unwrap();
            assert_eq!(signed.status(), StatusCode::OK);
            let link: String = signed.json().await.unwrap();
            let file = client.get(server.url(&link)).send().await.unwrap();
            assert_eq!(file.status(), StatusCode::OK);
        }
    }
    let deleted = form(
        "delete_export_request",
        &[("id", &ids[0].to_string())],
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(server.terminate().success());

    // Exactly one audit event per create, completion, failure, delete; one per download.
    for (index, id) in ids.iter().enumerate() {
        let events: Vec<(String, Option<uuid::Uuid>, Option<uuid::Uuid>)> = with_db!(&db, pool => {
            sqlx::query_as(
                "SELECT event, organization_id, actor_id FROM pf_audit_logs WHERE target_id = $1 ORDER BY id",
            )
            .bind(id.to_string())
            .fetch_all(pool).await.unwrap()
        });
        let count = |name: &str| events.iter().filter(|(event, _, _)| event == name).count();
        assert_eq!(count("export_request_created"), 1, "{index}: {events:?}");
        let (completed, failed) = if index < 2 { (1, 0) } else { (0, 1) };
        assert_eq!(
            count("export_request_completed"),
            completed,
            "{index}: {events:?}"
        );
        assert_eq!(count("export_request_failed"), failed, "{index}: {events:?}");
        assert_eq!(
            count("export_downloaded"),
            if index < 2 { 2 } else { 0 },
            "{index}"
        );
        assert_eq!(
            count("export_request_deleted"),
            usize::from(index == 0),
            "{index}"
        );
        for (event, organization, actor) in &events {
            assert_eq!(*organization, Some(organization_id), "{event}");
            assert_eq!(*actor, Some(admin_id), "{event} is attributed");
        }
    }

    // The logs (at debug level) hold no PHI, no password, no session token and no signature.
    let logs = server.output().join("\n");
    assert!(logs.contains("export finished"), "the run was logged at all");
    let mut secrets: Vec<String> = with_db!(&db, pool => {
        sqlx::query_as::<_, (String, String, Option<String>, Option<String>, String)>(
            "SELECT first_name, last_name, email, phone, medical_record_number FROM clients \
             WHERE organization_id = $1",
        )
        .bind(organization_id)
        .fetch_all(pool).await.unwrap()
    })
    .into_iter()
    .flat_map(|(first, last, email, phone, mrn)| [Some(first), Some(last), email, phone, Some(mrn)])
    .flatten()
    .filter(|value| value.len() >= 5)
    .collect();
    // ("demo-password" is printed on purpose: the demo's published password, shown at first run.)
    secrets.extend(["wrong-password-42".to_owned(), token.clone()]);
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "the logs contain {secret:?}");
    }
    for marker in ["sig=", "X-Amz-Signature", "exports_session="] {
        assert!(!logs.contains(marker), "the logs contain {marker}");
    }
}
