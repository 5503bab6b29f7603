//! Hostile input: every server function fed hundreds of malformed, oversized, truncated and
//! type-confused payloads (deterministic pseudo-random mutations of valid ones, and raw bytes).
//! Each answers 2xx or 4xx with a JSON error that has a code and a message — never a 5xx, never a
//! panic — and nothing changes that a valid request would not change.

#![cfg(feature = "ssr")]

mod common;

use common::{Backend, TestApp, count, export_request};
use serde_json::{Value, json};

on_both_databases!(every_server_function_survives_hostile_payloads);

/// Reproducible "random" choices (the seeder's SplitMix64), so a failure names a case that can
/// be replayed.
struct Rng(data_exports::seed::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values that break naive code: wrong types, extremes, odd text.
fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!([]),
        6 => json!({}),
        7 => json!("x".repeat(10_000)),
        8 => json!("\u{0000}\u{202e}'; DROP TABLE pf_export_requests; --"),
        9 => json!(["clients", 1, null, {"a": []}]),
        10 => json!("00000000-0000-0000-0000-000000000000"),
        11 => json!("../../etc/passwd"),
        12 => json!("csv\r\nSet-Cookie: x=y"),
        _ => json!("Zoë 漢字 🙂"),
    }
}

/// A mutation of a valid JSON body, as bytes.
fn mutate_json(rng: &mut Rng, valid: &Value) -> (Vec<u8>, &'static str) {
    let mut body = valid.clone();
    let text = |value: &Value| value.to_string().into_bytes();
    match rng.below(10) {
        // Replace a field of the request with something of the wrong type.
        0..=2 => {
            let field = *rng.pick(&[
                "export_type",
                "export_format",
                "entity_types",
                "columns",
                "date_from",
                "date_to",
                "purpose",
                "purpose_detail",
                "recipient",
                "extra",
            ]);
            body["request"][field] = hostile_value(rng);
            (text(&body), "application/json")
        }
        // Replace the whole request.
        3 => {
            body["request"] = hostile_value(rng);
            (text(&body), "application/json")
        }
        // Truncate at a random byte.
        4 => {
            let bytes = text(&body);
            let cut = rng.below(bytes.len());
            (bytes[..cut].to_vec(), "application/json")
        }
        // Deep nesting.
        5 => {
            let depth = 5_000;
            let mut nested = "[".repeat(depth);
            nested.push_str(&"]".repeat(depth));
            (
                format!("{{\"request\":{nested}}}").into_bytes(),
                "application/json",
            )
        }
        // Invalid UTF-8 inside a string.
        6 => {
            let mut bytes = b"{\"request\":{\"export_type\":\"".to_vec();
            bytes.extend_from_slice(&[0xff, 0xfe, 0xc3]);
            bytes.extend_from_slice(b"\",\"export_format\":\"csv\"}}");
            (bytes, "application/json")
        }
        // The right body with the wrong content type, or nothing at all.
        7 => (text(&body), "application/x-www-form-urlencoded"),
        8 => (Vec::new(), "application/json"),
        // Random bytes.
        _ => (
            random_bytes(rng),
            *rng.pick(&["application/json", "text/plain", "application/octet-stream"]),
        ),
    }
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(2_000);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A hostile form body for an endpoint taking `fields`.
fn mutate_form(rng: &mut Rng, fields: &[&str]) -> (Vec<u8>, &'static str) {
    let values = [
        "",
        "-1",
        "0",
        "99999999999999999999999",
        "abc",
        "%zz",
        "%00",
        "00000000-0000-0000-0000-000000000000",
        "6f1c1f9e-9f0e-4c36-9d4e-6a1e0e1a8f1",
        "6f1c1f9e-9f0e-4c36-9d4e-6a1e0e1a8f10-extra",
        "Zoë 漢字",
    ];
    match rng.below(6) {
        0 => (random_bytes(rng), "application/x-www-form-urlencoded"),
        1 => (Vec::new(), "application/x-www-form-urlencoded"),
        2 => {
            let long = "9".repeat(60_000);
            let field = fields.first().copied().unwrap_or("anything");
            (
                common::form_encode(&[(field, &long)]).into_bytes(),
                "application/x-www-form-urlencoded",
            )
        }
        3 => (b"{\"id\": 1}".to_vec(), "application/json"),
        _ => {
            let mut pairs = Vec::new();
            for field in fields.iter().chain(["unexpected", "id"].iter()) {
                if rng.below(3) > 0 {
                    pairs.push((*field, *rng.pick(&values)));
                }
            }
            // Repeat a field now and then.
            if let Some(first) = pairs.first().copied()
                && rng.below(4) == 0
            {
                pairs.push(first);
            }
            (
                common::form_encode(&pairs).into_bytes(),
                "application/x-www-form-urlencoded",
            )
        }
    }
}

/// The rows of `table`.
async fn rows(app: &TestApp, table: &str) -> i64 {
    count(app, &format!("SELECT COUNT(*) FROM {table}")).await
}

async fn every_server_function_survives_hostile_payloads(backend: Backend) {
    let app = TestApp::seeded_with(
        backend,
        &[
            ("EXPORT_LIMIT_PER_USER_PER_HOUR", "100000"),
            ("EXPORT_MAX_ACTIVE_PER_ORGANIZATION", "100000"),
        ],
        5,
    )
    .await;
    let admin = app.login("admin@acme.test").await;
    let before: Vec<i64> = {
        let mut counts = Vec::new();
        for table in ["organizations", "users", "memberships", "clients", "appointments"] {
            counts.push(rows(&app, table).await);
        }
        counts
    };
    let valid_create = export_request("selected_records", "csv", &["clients"]);
    let mut rng = Rng(data_exports::seed::Rng::new(&format!("hostile-{backend:?}")));
    let mut created = 0i64;
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..1_400 {
        let (endpoint, (body, content_type), cookie) = match case % 10 {
            0 => (
                "create_export_request",
                mutate_json(&mut rng, &valid_create),
                Some(admin.as_str()),
            ),
            1 => (
                "list_export_requests",
                mutate_form(&mut rng, &["before", "after"]),
                Some(admin.as_str()),
            ),
            2 => (
                "delete_export_request",
                mutate_form(&mut rng, &["id"]),
                Some(admin.as_str()),
            ),
            3 => (
                "sign_download_url",
                mutate_form(&mut rng, &["id"]),
                Some(admin.as_str()),
            ),
            4 => ("login", mutate_form(&mut rng, &["email", "password"]), None),
            5 => ("current_user", mutate_form(&mut rng, &[]), Some(admin.as_str())),
            6 => (
                "cancel_export_request",
                mutate_form(&mut rng, &["id"]),
                Some(admin.as_str()),
            ),
            7 => (
                "run_export_again",
                mutate_form(&mut rng, &["id"]),
                Some(admin.as_str()),
            ),
            8 => (
                "set_export_retention",
                mutate_form(&mut rng, &["hours"]),
                Some(admin.as_str()),
            ),
            _ => ("logout", mutate_form(&mut rng, &[]), None),
        };
        let response = app.call_raw(endpoint, content_type, body.clone(), cookie).await;
        let status = response.status;
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
        assert!(
            status.is_success() || status.is_client_error(),
            "case {case}: {endpoint} answered {status} to {:?} ({content_type}): {}",
            String::from_utf8_lossy(&body[..body.len().min(200)]),
            response.text()
        );
        if status.is_client_error() && status != http::StatusCode::PAYLOAD_TOO_LARGE {
            let error = response.json();
            assert!(
                error["code"].is_string(),
                "case {case}: {endpoint}: no code in {error}"
            );
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "case {case}: {endpoint}: no message in {error}"
            );
        }
        if endpoint == "create_export_request" && status.is_success() {
            created += 1;
        }
    }
    // Only what a valid request would change has changed.
    let mut after = Vec::new();
    for table in ["organizations", "users", "memberships", "clients", "appointments"] {
        after.push(rows(&app, table).await);
    }
    assert_eq!(before, after, "hostile requests changed records");
    assert_eq!(rows(&app, "pf_export_requests").await, created);
    // The admin's session survived all of it.
    let me = app.call("current_user", &[], Some(&admin)).await.json();
    assert_eq!(me["email"], "admin@acme.test", "{statuses:?}");
}
