//! An export's scope, on SQLite and Postgres: a date range is read as calendar days of the
//! organisation's time zone, right across a daylight-saving change; only the chosen columns are
//! written, in every format; identified exports state a purpose and a recipient, which are
//! stored and audited; and every malformed scope is refused with a message, creating nothing.

#![cfg(feature = "ssr")]

mod common;

use chrono::NaiveDate;
use chrono_tz::America::New_York;
use common::{
    Backend, Row, TestApp, count, create_export, download, export_request_details, fixture, id_of, insert,
    list_export_requests, read_back, request_state, setup_fixture, work,
};
use data_exports::{
    auth::accounts,
    engine::{value::Value, worker::Outcome},
    exports::scope::Purpose,
    records::EntityType,
    with_db,
};
use http::StatusCode;
use serde_json::{Value as Json, json};
use uuid::Uuid;

on_both_databases!(
    a_date_range_across_the_autumn_clock_change_holds_exactly_its_local_days,
    only_the_chosen_columns_are_written_in_every_format,
    identified_exports_state_a_purpose_and_recipient_that_are_stored_and_audited,
    malformed_scopes_are_refused_with_a_message_and_create_nothing,
    a_completed_export_describes_itself_in_its_details_and_in_its_file,
    the_preview_counts_what_the_export_then_holds_and_big_exports_need_a_confirmation,
);

/// Asks for an export with this request body (the `request` object).
async fn create(app: &TestApp, cookie: &str, request: Json) -> common::TestResponse {
    app.call_json(
        "create_export_request",
        &json!({ "request": request }),
        Some(cookie),
    )
    .await
}

/// A selected-records request with a purpose and recipient, plus `extra`'s fields.
fn selected(format: &str, entities: &[&str], extra: Json) -> Json {
    let mut request = json!({
        "export_type": "selected_records",
        "export_format": format,
        "entity_types": entities,
        "purpose": "payment",
        "recipient": "internal: finance team",
    });
    for (key, value) in extra.as_object().unwrap() {
        request[key] = value.clone();
    }
    request
}

/// A copy of `row` with `changes` applied.
fn with(row: &Row, changes: &[(&str, Value)]) -> Row {
    let mut row = row.clone();
    for (name, value) in changes {
        row.iter_mut().find(|(column, _)| column == name).unwrap().1 = value.clone();
    }
    row
}

/// One copy of `template` per `(value, _)` of `values`, with `column` set to it and a new id
/// starting with `prefix`.
fn copies(
    template: &Row,
    prefix: char,
    column: &str,
    values: &[(&str, bool)],
    typed: impl Fn(&str) -> Value,
) -> Vec<Row> {
    values
        .iter()
        .enumerate()
        .map(|(n, (value, _))| {
            let id = format!("{prefix}0000000-0000-4000-8000-{n:012}");
            with(template, &[("id", Value::Text(id)), (column, typed(value))])
        })
        .collect()
}

fn rows_of(entity: EntityType) -> Vec<Row> {
    fixture().into_iter().find(|(e, _)| *e == entity).unwrap().1
}

fn value<'a>(row: &'a Row, name: &str) -> &'a Value {
    &row.iter().find(|(column, _)| *column == name).unwrap().1
}

fn row_id(row: &Row) -> String {
    match value(row, "id") {
        Value::Text(id) => id.clone(),
        other => panic!("{other:?}"),
    }
}

/// The ids of an exported table, sorted.
fn exported_ids(table: &Json) -> Vec<String> {
    let mut ids: Vec<String> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn a_date_range_across_the_autumn_clock_change_holds_exactly_its_local_days(backend: Backend) {
    // One row per batch, so that every batch boundary falls between two rows, ties included.
    let app = TestApp::with_env(backend, &[("EXPORT_BATCH_ROWS", "1")]).await;
    let (organization_id, cookie) = setup_fixture(&app).await;
    accounts::set_time_zone(&app.state.db, organization_id, "America/New_York")
        .await
        .unwrap();
    // New York leaves daylight time at 02:00 on Sunday 1 November 2026 (UTC-4 → UTC-5), so the
    // range 31 October – 1 November is [04:00Z on the 31st, 05:00Z on the 2nd).
    let appointment = rows_of(EntityType::Appointments)[0].clone();
    let edges = [
        ("2026-10-31T03:59:59Z", false), // 30 Oct 23:59:59 EDT
        ("2026-10-31T04:00:00Z", true),  // 31 Oct 00:00 EDT
        ("2026-11-01T05:30:00Z", true),  // 1 Nov 01:30 EDT
        ("2026-11-01T05:30:00Z", true),  // the same instant again: a tie the cursor must not skip
        ("2026-11-01T06:30:00Z", true),  // 1 Nov 01:30 EST, the repeated hour
        ("2026-11-02T04:59:59Z", true),  // 1 Nov 23:59:59 EST
        ("2026-11-02T05:00:00Z", false), // 2 Nov 00:00 EST
    ];
    let added = copies(&appointment, 'a', "starts_at", &edges, |at| {
        Value::Timestamp(at.parse().unwrap())
    });
    insert(&app, organization_id, EntityType::Appointments, &added).await;
    let encounter = rows_of(EntityType::Encounters)[0].clone();
    let days = [
        ("2026-10-30", false),
        ("2026-10-31", true),
        ("2026-11-01", true),
        ("2026-11-02", false),
    ];
    let added_encounters = copies(&encounter, 'e', "service_date", &days, |day| {
        Value::Date(day.parse().unwrap())
    });
    insert(&app, organization_id, EntityType::Encounters, &added_encounters).await;

    let request = selected(
        "json",
        &["appointments", "encounters", "staff"],
        json!({ "date_from": "2026-10-31", "date_to": "2026-11-01" }),
    );
    let created = create(&app, &cookie, request).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = id_of(&created);
    let Outcome::Completed(_) = work(&app).await else {
        panic!("the export did not complete");
    };
    let file = read_back(&download(&app, &cookie, id).await, "json", "");
    let tables = &file["entities"];

    // Every appointment whose New York date is 31 October or 1 November, and no other.
    let first = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
    let last = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let local_day = |row: &Row| match value(row, "starts_at") {
        Value::Timestamp(at) => at.with_timezone(&New_York).date_naive(),
        other => panic!("{other:?}"),
    };
    let all_appointments: Vec<Row> = rows_of(EntityType::Appointments)
        .into_iter()
        .chain(added.iter().cloned())
        .collect();
    let mut expected: Vec<String> = all_appointments
        .iter()
        .filter(|row| (first..=last).contains(&local_day(row)))
        .map(row_id)
        .collect();
    expected.sort();
    assert_eq!(exported_ids(&tables["appointments"]), expected);
    for (row, (at, inside)) in added.iter().zip(edges) {
        assert_eq!(
            expected.contains(&row_id(row)),
            inside,
            "{at} is {}in the range",
            if inside { "" } else { "not " }
        );
    }
    // A date column is compared as the date it is.
    let mut expected_encounters: Vec<String> = rows_of(EntityType::Encounters)
        .iter()
        .chain(&added_encounters)
        .filter(|row| matches!(value(row, "service_date"), Value::Date(day) if (first..=last).contains(day)))
        .map(row_id)
        .collect();
    expected_encounters.sort();
    assert_eq!(exported_ids(&tables["encounters"]), expected_encounters);
    for (row, (day, inside)) in added_encounters.iter().zip(days) {
        assert_eq!(expected_encounters.contains(&row_id(row)), inside, "{day}");
    }
    // Staff have no date column: exported whole.
    assert_eq!(
        tables["staff"]["rows"].as_array().unwrap().len(),
        rows_of(EntityType::Staff).len()
    );

    // The range is stored with the zone it was read in, listed, and in the file's name.
    let state = request_state(&app, id).await;
    assert_eq!(state.time_zone, New_York);
    assert_eq!(
        state
            .file_name
            .as_deref()
            .map(|name| name.contains("-2026-10-31-to-2026-11-01-")),
        Some(true),
        "{:?}",
        state.file_name
    );
    let listed = list_export_requests(&app, &cookie).await.json();
    assert_eq!(
        listed["items"][0]["date_range"],
        json!({ "from": "2026-10-31", "to": "2026-11-01" })
    );
    // A later change of the organisation's zone does not change what the request meant.
    accounts::set_time_zone(&app.state.db, organization_id, "Europe/London")
        .await
        .unwrap();
    assert_eq!(request_state(&app, id).await.time_zone, New_York);
}

async fn only_the_chosen_columns_are_written_in_every_format(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, cookie) = setup_fixture(&app).await;
    let clients = rows_of(EntityType::Clients);
    for (format, extension) in [("csv", "zip"), ("xlsx", "xlsx"), ("json", "json")] {
        // Named out of order, without the id: written in registry order, id first.
        let request = selected(
            format,
            &["clients", "staff"],
            json!({ "columns": { "clients": ["date_of_birth", "last_name"] } }),
        );
        let created = create(&app, &cookie, request).await;
        assert_eq!(created.status, StatusCode::OK, "{format}: {}", created.text());
        let id = id_of(&created);
        assert!(matches!(work(&app).await, Outcome::Completed(_)), "{format}");
        let file = read_back(&download(&app, &cookie, id).await, extension, "");
        let table = &file["entities"]["clients"];
        assert_eq!(
            table["header"],
            json!(["id", "last_name", "date_of_birth"]),
            "{format}"
        );
        assert_eq!(exported_ids(table).len(), clients.len(), "{format}");
        for row in table["rows"].as_array().unwrap() {
            let source = clients
                .iter()
                .find(|c| row_id(c) == row[0].as_str().unwrap())
                .unwrap();
            let Value::Date(born) = value(source, "date_of_birth") else {
                panic!("{format}: a client without a date of birth")
            };
            assert_eq!(row[2], json!(born.to_string()), "{format}");
        }
        // Not chosen for: every column.
        let staff: Vec<&str> = EntityType::Staff.columns().iter().map(|c| c.name).collect();
        assert_eq!(file["entities"]["staff"]["header"], json!(staff), "{format}");
    }
    // A de-identified export takes a choice among what survives de-identification.
    let request = json!({
        "export_type": "deidentified_dataset",
        "export_format": "csv",
        "entity_types": ["clients"],
        "columns": { "clients": ["zip_code", "sex"] },
    });
    let created = create(&app, &cookie, request).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = id_of(&created);
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    let file = read_back(&download(&app, &cookie, id).await, "csv", "clients");
    assert_eq!(
        file["entities"]["clients"]["header"],
        json!(["id", "sex", "zip_code"])
    );
}

/// The `scope` of the audit entries of `event` about request `id`.
async fn audited_scopes(app: &TestApp, event: &str, id: Uuid) -> Vec<Json> {
    let payloads: Vec<String> = with_db!(&app.state.db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(payload AS TEXT) FROM pf_audit_logs WHERE event = $1 AND target_id = $2 ORDER BY id",
        )
        .bind(event)
        .bind(id.to_string())
        .fetch_all(pool)
        .await
        .unwrap()
    });
    payloads
        .iter()
        .map(|text| serde_json::from_str::<Json>(text).unwrap()["scope"].clone())
        .collect()
}

async fn identified_exports_state_a_purpose_and_recipient_that_are_stored_and_audited(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, cookie) = setup_fixture(&app).await;
    let requests = || count(&app, "SELECT COUNT(*) FROM pf_export_requests");

    // Identified data without a purpose or a recipient: refused, nothing created.
    for (export_type, entities) in [
        ("full_organization", json!([])),
        ("selected_records", json!(["clients"])),
        ("audit_trail", json!([])),
    ] {
        let bare = json!({ "export_type": export_type, "export_format": "csv", "entity_types": entities });
        let refused = create(&app, &cookie, bare.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{export_type}");
        assert_eq!(refused.json()["field"], "purpose", "{export_type}");
        let mut without_recipient = bare;
        without_recipient["purpose"] = json!("treatment");
        let refused = create(&app, &cookie, without_recipient).await;
        assert_eq!(refused.json()["field"], "recipient", "{export_type}");
    }
    assert_eq!(requests().await, 0);

    // Stated: stored, and in the audit entries of its creation, completion and every download.
    let request = selected(
        "csv",
        &["claims"],
        json!({ "purpose": "other", "purpose_detail": "state quality registry", "recipient": "Vermont Registry" }),
    );
    let created = create(&app, &cookie, request).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = id_of(&created);
    let disclosure = request_state(&app, id).await.spec.disclosure.unwrap();
    assert_eq!(
        (
            disclosure.purpose,
            disclosure.purpose_label(),
            disclosure.recipient.as_str()
        ),
        (
            Purpose::Other,
            "Other: state quality registry".to_owned(),
            "Vermont Registry"
        )
    );
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    download(&app, &cookie, id).await;
    download(&app, &cookie, id).await;
    let stated = json!({
        "purpose": "other",
        "purpose_detail": "state quality registry",
        "recipient": "Vermont Registry",
    });
    for (event, times) in [
        ("export_request_created", 1),
        ("export_request_completed", 1),
        ("export_downloaded", 2),
    ] {
        let scopes = audited_scopes(&app, event, id).await;
        assert_eq!(scopes.len(), times, "{event}");
        for scope in scopes {
            assert_eq!(scope["disclosure"], stated, "{event}");
            assert_eq!(
                scope["columns"]["claims"].as_array().unwrap().len(),
                EntityType::Claims.columns().len()
            );
        }
    }

    // A de-identified dataset needs neither.
    let created = create(
        &app,
        &cookie,
        json!({ "export_type": "deidentified_dataset", "export_format": "json", "entity_types": ["clients"] }),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    assert_eq!(request_state(&app, id_of(&created)).await.spec.disclosure, None);
    let unused = create_export(&app, &cookie, "deidentified_dataset", "csv", &["claims"]).await;
    assert_eq!(
        audited_scopes(&app, "export_request_created", unused).await[0]["disclosure"],
        Json::Null
    );
}

async fn malformed_scopes_are_refused_with_a_message_and_create_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, cookie) = setup_fixture(&app).await;
    let long = "x".repeat(10_000);
    let cases = [
        (json!({ "columns": { "clients": ["ssn"] } }), "columns"),
        (
            json!({ "columns": { "clients": ["last_name", "last_name"] } }),
            "columns",
        ),
        (json!({ "columns": { "claims": ["id"] } }), "columns"),
        (json!({ "columns": { "patients": ["id"] } }), "columns"),
        (
            json!({ "date_from": "2026-10-31", "date_to": "2026-10-01" }),
            "date_to",
        ),
        (
            json!({ "date_from": "1899-12-31", "date_to": "2026-10-01" }),
            "date_from",
        ),
        (
            json!({ "date_from": "2026-10-01", "date_to": "2101-01-01" }),
            "date_to",
        ),
        (
            json!({ "date_from": "2026-13-01", "date_to": "2026-10-01" }),
            "date_from",
        ),
        (
            json!({ "date_from": "-99999-01-01", "date_to": "2026-10-01" }),
            "date_from",
        ),
        (json!({ "date_from": "2026-10-01" }), "date_to"),
        (json!({ "purpose": "marketing" }), "purpose"),
        (json!({ "purpose": "other" }), "purpose_detail"),
        (json!({ "recipient": long }), "recipient"),
        (json!({ "recipient": "finance\r\nteam" }), "recipient"),
    ];
    for (extra, field) in cases {
        let refused = create(&app, &cookie, selected("csv", &["clients"], extra.clone())).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{extra}: {}",
            refused.text()
        );
        let error = refused.json();
        assert_eq!(error["field"], field, "{extra}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(!message.is_empty() && message.len() < 200, "{extra}: {message}");
    }
    // De-identification's removed columns cannot be asked for.
    let refused = create(
        &app,
        &cookie,
        json!({
            "export_type": "deidentified_dataset", "export_format": "csv", "entity_types": ["clients"],
            "columns": { "clients": ["first_name"] },
        }),
    )
    .await;
    assert_eq!(refused.json()["field"], "columns", "{}", refused.text());
    // Wrong shapes are malformed requests.
    for extra in [
        json!({ "columns": "all" }),
        json!({ "columns": { "clients": "id" } }),
        json!({ "date_from": 20261001 }),
        json!({ "purpose": ["payment"] }),
    ] {
        let refused = create(&app, &cookie, selected("csv", &["clients"], extra.clone())).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{extra}: {}",
            refused.text()
        );
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM pf_export_requests").await, 0);
}

async fn a_completed_export_describes_itself_in_its_details_and_in_its_file(backend: Backend) {
    use sha2::Digest;
    let app = TestApp::new(backend).await;
    let (organization_id, cookie) = setup_fixture(&app).await;
    accounts::set_time_zone(&app.state.db, organization_id, "America/New_York")
        .await
        .unwrap();
    let scope = json!({
        "date_from": "2020-01-01",
        "date_to": "2030-12-31",
        "columns": { "clients": ["last_name"] },
        "purpose": "client_request",
        "recipient": "The client, by secure mail",
    });
    for (format, extension) in [("json", "json"), ("csv", "zip"), ("xlsx", "xlsx")] {
        let created = create(
            &app,
            &cookie,
            selected(format, &["clients", "claims"], scope.clone()),
        )
        .await;
        assert_eq!(created.status, StatusCode::OK, "{format}: {}", created.text());
        let id = id_of(&created);
        assert!(matches!(work(&app).await, Outcome::Completed(_)), "{format}");
        let bytes = download(&app, &cookie, id).await;
        let file = read_back(&bytes, extension, "");
        let rows = |entity: &str| file["entities"][entity]["rows"].as_array().unwrap().len() as u64;

        let details = export_request_details(&app, &cookie, id).await;
        assert_eq!(details.status, StatusCode::OK, "{format}: {}", details.text());
        let details = details.json();
        // The digest was taken of the very bytes stored.
        assert_eq!(
            details["sha256"],
            json!(format!("{:x}", sha2::Sha256::digest(&bytes))),
            "{format}"
        );
        assert_eq!(
            details["request"]["file_size_bytes"],
            json!(bytes.len()),
            "{format}"
        );
        assert_eq!(
            details["row_counts"],
            json!([["clients", rows("clients")], ["claims", rows("claims")]]),
            "{format}"
        );
        assert_eq!(details["time_zone"], "America/New_York");
        assert_eq!(details["purpose"], "The client's own request");
        assert_eq!(details["recipient"], "The client, by secure mail");
        assert_eq!(details["requested_by"], "Fixture Admin <admin@fixture.test>");
        assert_eq!(details["columns"][0], json!(["clients", ["id", "last_name"]]));
        assert!(details["snapshot_at"].is_string(), "{format}");

        // The file says the same about itself.
        let manifest = &file["manifest"];
        if format == "xlsx" {
            assert_eq!(manifest["Dates"], "1 Jan 2020 – 31 Dec 2030 (America/New_York)");
            assert_eq!(manifest["Purpose"], "The client's own request");
            assert_eq!(manifest["Recipient"], "The client, by secure mail");
            assert_eq!(manifest["Columns: Clients"], "id, last_name");
            assert_eq!(manifest["Rows: Claims"], rows("claims").to_string());
            assert_eq!(manifest["Export request"], id.to_string());
        } else {
            assert_eq!(manifest["export_request_id"], id.to_string(), "{format}");
            assert_eq!(
                manifest["date_range"],
                json!({ "from": "2020-01-01", "to": "2030-12-31" })
            );
            assert_eq!(manifest["time_zone"], "America/New_York");
            assert_eq!(manifest["columns"]["clients"], json!(["id", "last_name"]));
            assert_eq!(manifest["purpose"], "The client's own request");
            assert_eq!(manifest["recipient"], "The client, by secure mail");
            assert_eq!(manifest["de_identified"], false);
            assert_eq!(
                manifest["row_counts"],
                json!({ "clients": rows("clients"), "claims": rows("claims") })
            );
            assert_eq!(manifest["snapshot_at"], details["snapshot_at"], "{format}");
        }
    }

    // Another organisation's admin, and an id that does not exist, get the same 404.
    let theirs = app.login("admin@other.test").await;
    let listed = list_export_requests(&app, &cookie).await.json();
    let ours: Uuid = listed["items"][0]["id"].as_str().unwrap().parse().unwrap();
    for (who, id) in [(&theirs, ours), (&cookie, Uuid::new_v4())] {
        let refused = export_request_details(&app, who, id).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text());
        assert!(!refused.text().contains("Fixture"), "{}", refused.text());
    }
    assert!(app.audit_count("access_denied").await >= 2);
}

async fn the_preview_counts_what_the_export_then_holds_and_big_exports_need_a_confirmation(backend: Backend) {
    let app = TestApp::with_env(backend, &[("EXPORT_CONFIRM_ROWS", "5")]).await;
    let (organization_id, cookie) = setup_fixture(&app).await;
    let request = selected(
        "json",
        &["clients", "claims", "staff"],
        json!({ "date_from": "2021-01-01", "date_to": "2024-12-31" }),
    );
    let preview = |request: Json, cookie: Option<String>| {
        let app = &app;
        async move {
            app.call_json(
                "preview_export",
                &json!({ "request": request }),
                cookie.as_deref(),
            )
            .await
        }
    };
    let previewed = preview(request.clone(), Some(cookie.clone())).await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.text());
    let previewed = previewed.json();
    let rows = previewed["rows"].as_u64().unwrap();
    assert!(rows > 5, "the fixture has more than five such rows: {previewed}");
    assert_eq!(previewed["confirm_above"], 5);
    assert!(previewed["estimated_bytes"].as_u64().unwrap() > 0);
    // A range leaves some rows out, and the staff (no date) in.
    let mut all_time = request.clone();
    all_time["date_from"] = json!("");
    all_time["date_to"] = json!("");
    let unranged = preview(all_time, Some(cookie.clone())).await.json();
    let of = |preview: &Json, n: usize| preview["row_counts"][n][1].as_u64().unwrap();
    assert!(of(&previewed, 0) + of(&previewed, 1) < of(&unranged, 0) + of(&unranged, 1));
    assert_eq!(of(&previewed, 2), rows_of(EntityType::Staff).len() as u64);
    assert_eq!(of(&unranged, 2), of(&previewed, 2));

    // Above the threshold: refused until confirmed, then exactly what the preview counted.
    let refused = create(&app, &cookie, request.clone()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
    assert_eq!(refused.json()["field"], "confirmed");
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains(&rows.to_string())
    );
    let mut confirmed = request.clone();
    confirmed["confirmed"] = json!(true);
    let created = create(&app, &cookie, confirmed).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = id_of(&created);
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    let details = export_request_details(&app, &cookie, id).await.json();
    assert_eq!(details["row_counts"], previewed["row_counts"]);
    assert_eq!(details["request"]["row_count"], json!(rows));

    // A malformed scope is refused as creation refuses it; without the permission, or signed
    // out, nothing is counted.
    let mut reversed = request.clone();
    reversed["date_to"] = json!("2020-01-01");
    let refused = preview(reversed, Some(cookie.clone())).await;
    assert_eq!(refused.json()["field"], "date_to", "{}", refused.text());
    let staff = accounts::upsert_user(
        &app.state.db,
        "staff@fixture.test",
        "Fixture Staff",
        data_exports::seed::DEMO_PASSWORD,
    )
    .await
    .unwrap();
    accounts::grant(&app.state.db, staff, organization_id, Some("staff"))
        .await
        .unwrap();
    let staff_cookie = app.login("staff@fixture.test").await;
    assert_eq!(
        preview(request.clone(), Some(staff_cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(preview(request, None).await.status, StatusCode::UNAUTHORIZED);
}
