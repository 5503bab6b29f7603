//! The export engine end to end, on SQLite and Postgres: requests made through the server
//! functions, produced by the worker, downloaded through signed URLs and read back by Python's
//! csv/zipfile/json modules and openpyxl (`tests/support/read_export.py`), never by our own code.

#![cfg(feature = "ssr")]

mod common;

use std::process::Command;

use chrono::{NaiveDate, TimeZone, Utc};
use common::{Backend, TestApp, fetch, files_under};
use data_exports::{
    auth::accounts,
    engine::{
        value::Value,
        worker::{Outcome, Worker, WorkerContext},
    },
    exports::model::{ExportFormat, ExportType},
    records::{EntityType, Kind},
    with_db,
};
use http::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

on_both_databases!(
    every_type_in_every_format_reads_back_exactly,
    de_identified_exports_keep_no_identifier,
    an_export_never_contains_another_organisations_rows,
    a_file_that_cannot_be_stored_is_retried_then_failed_and_nothing_is_left,
    data_a_format_cannot_hold_fails_at_once_with_a_message_saying_why,
    exports_are_stored_on_s3_and_downloaded_from_it,
    a_worker_killed_mid_export_is_replaced_and_the_export_completes_once,
    a_worker_killed_mid_upload_leaves_no_parts_on_s3,
    sigterm_hands_a_running_export_back_after_the_grace_period,
    files_of_attempts_killed_after_their_upload_are_removed,
    deleting_a_request_aborts_the_upload_a_killed_attempt_left,
    a_full_disk_fails_the_export_at_once_with_a_clear_message,
);

// ------------------------------------------------------------------------------------------
// The fixture: one organisation with hand-written rows (every awkward value we know of), and
// another whose rows must never leak into the first one's exports.

const OTHER_MARKER: &str = "OTHER-ORG-SECRET";

fn id(entity: u8, n: u8) -> Uuid {
    Uuid::parse_str(&format!("{entity}0000000-0000-4000-8000-0000000000{n:02}")).unwrap()
}

fn t(text: &str) -> Value {
    Value::Text(text.into())
}

fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn uid(id: Uuid) -> Value {
    Value::Text(id.to_string())
}

type Row = Vec<(&'static str, Value)>;

fn fixture() -> Vec<(EntityType, Vec<Row>)> {
    use Value::{Bool, Int, Null};
    vec![
        (
            EntityType::Staff,
            vec![
                vec![
                    ("id", uid(id(1, 1))),
                    ("employee_number", t("E-001")),
                    ("first_name", t("Ana")),
                    ("last_name", t("=Lopez")),
                    ("email", t("ana@fixture.test")),
                    ("phone", t("+1 555 0101")),
                    ("job_title", t("Therapist, LCSW")),
                    ("npi", t("1234567890")),
                    ("hired_on", date(2019, 7, 1)),
                    ("active", Bool(true)),
                ],
                vec![
                    ("id", uid(id(1, 2))),
                    ("employee_number", t("E-002")),
                    ("first_name", t("Bo")),
                    ("last_name", t("Chen")),
                    ("email", t("bo@fixture.test")),
                    ("phone", Null),
                    ("job_title", t("Psychiatrist")),
                    ("npi", Null),
                    ("hired_on", date(2020, 2, 29)),
                    ("active", Bool(false)),
                ],
            ],
        ),
        (
            EntityType::Clients,
            vec![
                vec![
                    ("id", uid(id(2, 1))),
                    ("medical_record_number", t("MRN-0001")),
                    ("first_name", t("Seán")),
                    ("last_name", t("O'Brien, \"Jr\"")),
                    ("date_of_birth", date(1930, 5, 1)),
                    ("sex", t("M")),
                    ("email", t("sean@example.test")),
                    ("phone", t("+1 (555) 010-0001")),
                    ("address_line", t("12 Main St\nApt 4")),
                    ("city", t("Zoëville")),
                    ("state", t("NH")),
                    ("zip_code", t("03601")),
                    ("insurance_member_id", t("@INS-1")),
                    ("primary_diagnosis_code", t("F32.1")),
                    ("intake_date", date(2021, 3, 4)),
                    ("status", t("active")),
                ],
                vec![
                    ("id", uid(id(2, 2))),
                    ("medical_record_number", t("MRN-0002")),
                    ("first_name", t("Ada")),
                    ("last_name", t("Lovelace")),
                    ("date_of_birth", date(1985, 12, 31)),
                    ("sex", t("F")),
                    ("email", Null),
                    ("phone", Null),
                    ("address_line", Null),
                    ("city", Null),
                    ("state", Null),
                    ("zip_code", t("94110-1234")),
                    ("insurance_member_id", Null),
                    ("primary_diagnosis_code", Null),
                    ("intake_date", date(2024, 1, 15)),
                    ("status", t("discharged")),
                ],
                vec![
                    ("id", uid(id(2, 3))),
                    ("medical_record_number", t("-MRN-3")),
                    ("first_name", t("\tTab")),
                    ("last_name", t("Smith")),
                    ("date_of_birth", date(1999, 6, 15)),
                    ("sex", t("X")),
                    ("email", t("-x@example.test")),
                    ("phone", t("555")),
                    ("address_line", t("1 \"Quoted\" Rd; 漢字 ✓")),
                    ("city", t("Springfield")),
                    ("state", t("MA")),
                    ("zip_code", t("ABCDE")),
                    ("insurance_member_id", t("INS-3")),
                    ("primary_diagnosis_code", t("F41.1")),
                    ("intake_date", date(2025, 11, 30)),
                    ("status", t("active")),
                ],
            ],
        ),
        (
            EntityType::Appointments,
            vec![
                vec![
                    ("id", uid(id(3, 1))),
                    ("client_id", uid(id(2, 1))),
                    ("staff_id", uid(id(1, 1))),
                    (
                        "starts_at",
                        Value::Timestamp(Utc.with_ymd_and_hms(2024, 3, 10, 14, 30, 0).unwrap()),
                    ),
                    ("duration_minutes", Int(50)),
                    ("appointment_type", t("Therapy")),
                    ("location", t("Room 1")),
                    ("status", t("completed")),
                    ("notes", t("=1+1 \"quoted\", multi\nline")),
                ],
                vec![
                    ("id", uid(id(3, 2))),
                    ("client_id", uid(id(2, 2))),
                    ("staff_id", uid(id(1, 2))),
                    (
                        "starts_at",
                        Value::Timestamp(Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap()),
                    ),
                    ("duration_minutes", Int(30)),
                    ("appointment_type", t("Intake")),
                    ("location", t("Telehealth")),
                    ("status", t("scheduled")),
                    ("notes", Null),
                ],
            ],
        ),
        (
            EntityType::Encounters,
            vec![vec![
                ("id", uid(id(4, 1))),
                ("client_id", uid(id(2, 1))),
                ("staff_id", uid(id(1, 1))),
                ("appointment_id", uid(id(3, 1))),
                ("service_date", date(2024, 3, 10)),
                ("diagnosis_code", t("F32.1")),
                ("procedure_code", t("90834")),
                ("duration_minutes", Int(50)),
                (
                    "note_summary",
                    t("Reports improvement, sleeping better; plan: continue"),
                ),
            ]],
        ),
        (
            EntityType::Claims,
            vec![
                vec![
                    ("id", uid(id(5, 1))),
                    ("client_id", uid(id(2, 1))),
                    ("encounter_id", uid(id(4, 1))),
                    ("claim_number", t("CLM-0001")),
                    ("payer_name", t("Blue Shield, Inc.")),
                    ("procedure_code", t("90834")),
                    ("diagnosis_code", t("F32.1")),
                    ("submitted_on", date(2024, 3, 12)),
                    ("billed_cents", Int(15000)),
                    ("paid_cents", Int(12000)),
                    ("status", t("paid")),
                ],
                vec![
                    ("id", uid(id(5, 2))),
                    ("client_id", uid(id(2, 2))),
                    ("encounter_id", Null),
                    ("claim_number", t("CLM-0002")),
                    ("payer_name", t("Medicaid")),
                    ("procedure_code", t("90791")),
                    ("diagnosis_code", t("Z00.0")),
                    ("submitted_on", date(2024, 1, 20)),
                    ("billed_cents", Int(25050)),
                    ("paid_cents", Null),
                    ("status", t("denied")),
                ],
            ],
        ),
    ]
}

/// The other organisation: same shapes, every text a marker, ids of its own.
fn other_fixture() -> Vec<(EntityType, Vec<Row>)> {
    fixture()
        .into_iter()
        .map(|(entity, rows)| {
            let rows = rows
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|(name, value)| {
                            let value = match value {
                                Value::Text(text) if Uuid::parse_str(&text).is_ok() => {
                                    // Same pattern, different digits: 9 instead of the leading 1–5.
                                    Value::Text(format!("9{}", &text[1..]))
                                }
                                Value::Text(_) => t(OTHER_MARKER),
                                other => other,
                            };
                            (name, value)
                        })
                        .collect()
                })
                .collect();
            (entity, rows)
        })
        .collect()
}

/// Inserts `rows` for the organisation, binding each value with its natural type.
async fn insert(app: &TestApp, organization_id: Uuid, entity: EntityType, rows: &[Row]) {
    for row in rows {
        let names: Vec<&str> = row.iter().map(|(name, _)| *name).collect();
        let params: Vec<String> = (2..=row.len() + 1).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO {} (organization_id, {}) VALUES ($1, {})",
            entity.table(),
            names.join(", "),
            params.join(", ")
        );
        let columns = entity.columns();
        with_db!(&app.state.db, pool => {
            let mut query = sqlx::query(&sql).bind(organization_id);
            for (name, value) in row {
                let kind = columns.iter().find(|c| c.name == *name).unwrap().kind;
                query = match (kind, value) {
                    (Kind::Id, Value::Text(text)) => query.bind(Uuid::parse_str(text).unwrap()),
                    (Kind::Integer, Value::Int(int)) => query.bind(*int as i32),
                    (_, Value::Int(int)) => query.bind(*int),
                    // Postgres wants a NULL of the column's own type.
                    (Kind::Id, Value::Null) => query.bind(None::<Uuid>),
                    (Kind::Integer, Value::Null) => query.bind(None::<i32>),
                    (Kind::Money, Value::Null) => query.bind(None::<i64>),
                    (Kind::Date, Value::Null) => query.bind(None::<NaiveDate>),
                    (_, Value::Null) => query.bind(None::<String>),
                    (_, Value::Text(text)) => query.bind(text.clone()),
                    (_, Value::Bool(flag)) => query.bind(*flag),
                    (_, Value::Date(date)) => query.bind(*date),
                    (_, Value::Timestamp(at)) => query.bind(*at),
                    (_, Value::Json(text)) => query.bind(text.clone()),
                };
            }
            query.execute(pool).await.unwrap();
        });
    }
}

/// The app with the two organisations and an admin of the first; returns its session.
async fn setup(app: &TestApp) -> (Uuid, String) {
    let db = &app.state.db;
    let ours = accounts::ensure_organization(db, "Fixture Clinic").await.unwrap();
    let theirs = accounts::ensure_organization(db, "Other Org").await.unwrap();
    for (organization, fixture) in [(ours, fixture()), (theirs, other_fixture())] {
        for (entity, rows) in &fixture {
            insert(app, organization, *entity, rows).await;
        }
    }
    let admin = accounts::upsert_user(
        db,
        "admin@fixture.test",
        "Fixture Admin",
        data_exports::seed::DEMO_PASSWORD,
    )
    .await
    .unwrap();
    accounts::grant(db, admin, ours, Some("org_admin")).await.unwrap();
    let other = accounts::upsert_user(
        db,
        "admin@other.test",
        "Other Admin",
        data_exports::seed::DEMO_PASSWORD,
    )
    .await
    .unwrap();
    accounts::grant(db, other, theirs, Some("org_admin"))
        .await
        .unwrap();
    (ours, app.login("admin@fixture.test").await)
}

// ------------------------------------------------------------------------------------------
// Requesting, producing, downloading and reading back.

async fn request(app: &TestApp, cookie: &str, export_type: &str, format: &str, entities: &[&str]) -> Uuid {
    let response = app
        .call_json(
            "create_export_request",
            &json!({ "request": { "export_type": export_type, "export_format": format, "entity_types": entities } }),
            Some(cookie),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    Uuid::parse_str(response.json()["id"].as_str().unwrap()).unwrap()
}

/// Lets the worker take the next request and returns how it ended.
async fn work(app: &TestApp) -> Outcome {
    Worker::new(WorkerContext::of(&app.state))
        .process_next(&CancellationToken::new())
        .await
        .unwrap()
        .expect("a request to work on")
}

async fn download(app: &TestApp, cookie: &str, id: Uuid) -> Vec<u8> {
    let signed = app
        .call("sign_download_url", &[("id", &id.to_string())], Some(cookie))
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text());
    let url: String = serde_json::from_value(signed.json()).unwrap();
    let file = fetch(app, &url, None).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    file.body
}

/// Reads a file with the Python readers; `entity` names a lone CSV's entity.
fn read_back(bytes: &[u8], extension: &str, entity: &str) -> serde_json::Value {
    let path = common::scratch_dir(&format!("readback-{}", Uuid::new_v4().simple()))
        .join(format!("export.{extension}"));
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/read_export.py"
        ))
        .arg(&path)
        .arg(entity)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "the Python reader refused the file: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What a reader of `format` must see for `value` (see read_export.py's canonical form).
fn expected_cell(format: ExportFormat, value: &Value) -> serde_json::Value {
    let text = match value {
        Value::Null => return serde_json::Value::Null,
        Value::Text(text) | Value::Json(text) if text.is_empty() => return serde_json::Value::Null,
        Value::Text(text) | Value::Json(text) => {
            let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']);
            if format == ExportFormat::Csv && formula {
                format!("'{text}")
            } else {
                text.clone()
            }
        }
        Value::Int(int) => int.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Date(date) => date.format("%Y-%m-%d").to_string(),
        Value::Timestamp(at) => at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    serde_json::Value::String(text)
}

/// The fixture's `entity` as the reader must see it: every column, rows in id order.
fn expected_table(format: ExportFormat, entity: EntityType) -> serde_json::Value {
    let (_, mut rows) = fixture().into_iter().find(|(e, _)| *e == entity).unwrap();
    rows.sort_by_key(|row| match &row[0].1 {
        Value::Text(id) => id.clone(),
        other => panic!("{other:?}"),
    });
    let header: Vec<&str> = entity.columns().iter().map(|c| c.name).collect();
    let rows: Vec<Vec<serde_json::Value>> = rows
        .iter()
        .map(|row| {
            header
                .iter()
                .map(|name| expected_cell(format, &row.iter().find(|(n, _)| n == name).unwrap().1))
                .collect()
        })
        .collect();
    json!({ "header": header, "rows": rows })
}

fn extension(format: ExportFormat, entities: usize) -> &'static str {
    format.extension(entities)
}

// ------------------------------------------------------------------------------------------

async fn every_type_in_every_format_reads_back_exactly(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (organization_id, cookie) = setup(&app).await;
    for export_type in ExportType::ALL {
        let entities: Vec<EntityType> = match export_type {
            ExportType::SelectedRecords => vec![EntityType::Claims, EntityType::Clients],
            ExportType::DeidentifiedDataset => vec![EntityType::Clients, EntityType::Appointments],
            ExportType::AuditTrail => vec![EntityType::AuditLogs],
            ExportType::FullOrganization => vec![
                EntityType::Clients,
                EntityType::Appointments,
                EntityType::Encounters,
                EntityType::Claims,
                EntityType::Staff,
            ],
        };
        let keys: Vec<&str> = entities.iter().map(|e| e.key()).collect();
        for format in export_type.formats() {
            let context = format!("{export_type:?} as {format:?}");
            let id = request(&app, &cookie, export_type.key(), format.key(), &keys).await;
            let Outcome::Completed(produced) = work(&app).await else {
                panic!("{context} did not complete");
            };
            let bytes = download(&app, &cookie, id).await;
            assert_eq!(bytes.len() as u64, produced.size, "{context}: stored size");
            let file = read_back(&bytes, extension(*format, entities.len()), entities[0].key());
            let tables = file["entities"].as_object().unwrap();
            let mut names: Vec<&String> = tables.keys().collect();
            names.sort();
            let mut want: Vec<&str> = keys.clone();
            want.sort();
            assert_eq!(names, want, "{context}: entities");

            let (row_count, status): (i64, String) = with_db!(&app.state.db, pool => {
                sqlx::query_as("SELECT row_count, status FROM pf_export_requests WHERE id = $1")
                    .bind(id).fetch_one(pool).await.unwrap()
            });
            assert_eq!(status, "completed", "{context}");
            let rows_read: usize = tables.values().map(|t| t["rows"].as_array().unwrap().len()).sum();
            assert_eq!(row_count as usize, rows_read, "{context}: row_count");

            match export_type {
                ExportType::FullOrganization | ExportType::SelectedRecords => {
                    for entity in &entities {
                        assert_eq!(
                            tables[entity.key()],
                            expected_table(*format, *entity),
                            "{context}: {entity:?}"
                        );
                    }
                }
                ExportType::DeidentifiedDataset => {
                    for entity in &entities {
                        let header: Vec<&str> = data_exports::engine::deidentify::columns(*entity)
                            .iter()
                            .map(|c| c.name)
                            .collect();
                        assert_eq!(tables[entity.key()]["header"], json!(header), "{context}");
                        let fixture_rows = fixture().into_iter().find(|(e, _)| e == entity).unwrap().1.len();
                        assert_eq!(
                            tables[entity.key()]["rows"].as_array().unwrap().len(),
                            fixture_rows
                        );
                    }
                }
                ExportType::AuditTrail => {
                    let table = &tables["audit_logs"];
                    let header: Vec<&str> = EntityType::AuditLogs.columns().iter().map(|c| c.name).collect();
                    assert_eq!(table["header"], json!(header), "{context}");
                    let ours: Vec<i64> = with_db!(&app.state.db, pool => {
                        sqlx::query_scalar("SELECT id FROM pf_audit_logs WHERE organization_id = $1 ORDER BY id")
                            .bind(organization_id).fetch_all(pool).await.unwrap()
                    });
                    let exported: Vec<i64> = table["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|row| row[0].as_str().unwrap().parse().unwrap())
                        .collect();
                    assert!(!exported.is_empty(), "{context}");
                    assert!(exported.windows(2).all(|w| w[0] < w[1]), "{context}: id order");
                    assert!(
                        exported.iter().all(|id| ours.contains(id)),
                        "{context}: foreign audit rows"
                    );
                    // This very request's creation is in its own trail.
                    let created = table["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|row| row[2] == "export_request_created" && row[5] == json!(id.to_string()));
                    assert!(created, "{context}: its own creation is missing");
                }
            }
        }
    }
    // Each completion was audited, with counts and no PHI.
    let payloads: Vec<String> = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT CAST(payload AS TEXT) FROM pf_audit_logs WHERE event = 'export_request_completed'")
            .fetch_all(pool).await.unwrap()
    });
    let offered: usize = ExportType::ALL.iter().map(|t| t.formats().len()).sum();
    assert_eq!(payloads.len(), offered);
    for payload in payloads {
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        for key in [
            "organization_id",
            "export_request_id",
            "export_type",
            "export_format",
            "entity_types",
            "row_count",
            "file_size_bytes",
            "execution_time_ms",
            "pii_phi_filtered",
        ] {
            assert!(payload.get(key).is_some(), "{key} missing from {payload}");
        }
        assert_eq!(payload["organization_id"], json!(organization_id.to_string()));
        for secret in ["O'Brien", "Lovelace", "MRN-0001", "sean@example.test"] {
            assert!(!payload.to_string().contains(secret));
        }
    }
}

async fn de_identified_exports_keep_no_identifier(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, cookie) = setup(&app).await;
    let all = ["clients", "appointments", "encounters", "claims", "staff"];
    for format in [ExportFormat::Json, ExportFormat::Csv] {
        let id = request(&app, &cookie, "deidentified_dataset", format.key(), &all).await;
        assert!(matches!(work(&app).await, Outcome::Completed(_)));
        let bytes = download(&app, &cookie, id).await;
        let text = if format == ExportFormat::Json {
            String::from_utf8(bytes.clone()).unwrap()
        } else {
            // Look inside the ZIP's CSVs too, not only at its compressed bytes.
            read_back(&bytes, "zip", "").to_string()
        };
        // No direct identifier and no real record id survives, anywhere in the file.
        let mut secrets: Vec<String> = vec![
            "Seán",
            "O'Brien",
            "Lovelace",
            "Ada",
            "MRN-0001",
            "MRN-0002",
            "-MRN-3",
            "sean@example.test",
            "555",
            "12 Main St",
            "Zoëville",
            "Springfield",
            "INS-3",
            "@INS-1",
            "CLM-0001",
            "CLM-0002",
            "1234567890",
            "ana@fixture.test",
            "E-001",
            "Lopez",
            "multi",
            "improvement",
            "94110",
            "1930",
            "03601",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for (_, rows) in fixture() {
            for row in rows {
                if let Value::Text(real_id) = &row[0].1 {
                    secrets.push(real_id.clone());
                }
            }
        }
        // Pseudonyms are random hex: one could spell "1930" by chance. Look past them.
        let text = without_pseudonyms(&text);
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{format:?} leaks {secret:?}");
        }
        let file = read_back(&bytes, extension(format, all.len()), "");
        let clients = &file["entities"]["clients"];
        let header: Vec<&str> = clients["header"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(
            header,
            [
                "id",
                "date_of_birth",
                "sex",
                "state",
                "zip_code",
                "primary_diagnosis_code",
                "intake_date",
                "status"
            ]
        );
        let rows = clients["rows"].as_array().unwrap();
        // Rows stay in real-id order: Seán (born 1930), Ada (1985), the third (1999).
        assert_eq!(rows[0][1], "90+", "over 89: no birth year");
        assert_eq!(rows[1][1], "1985");
        assert_eq!(rows[0][4], "000", "restricted ZIP3 036");
        assert_eq!(rows[1][4], "941");
        assert_eq!(rows[2][4], serde_json::Value::Null, "not a ZIP code: withheld");
        assert_eq!(rows[0][6], "2021", "dates keep the year only");
        for row in rows {
            let pseudonym = row[0].as_str().unwrap();
            assert_eq!(pseudonym.len(), 32);
            assert!(pseudonym.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        // Pseudonyms still join: the first appointment is Seán's, the encounter is of that
        // appointment, and Seán's first claim is his.
        let appointments = file["entities"]["appointments"]["rows"].as_array().unwrap();
        assert_eq!(appointments[0][1], rows[0][0]);
        assert_eq!(appointments[1][1], rows[1][0]);
        assert_eq!(
            appointments[0][3], "2024",
            "appointment instants keep the year only"
        );
        let encounters = file["entities"]["encounters"]["rows"].as_array().unwrap();
        assert_eq!(encounters[0][3], appointments[0][0]);
        let claims = file["entities"]["claims"]["rows"].as_array().unwrap();
        assert_eq!(claims[0][1], rows[0][0]);
        let staff_header = &file["entities"]["staff"]["header"];
        assert_eq!(staff_header, &json!(["id", "job_title", "hired_on", "active"]));
    }
    // Recorded as filtered, on the request and in the audit log.
    let filtered: i64 = with_db!(&app.state.db, pool => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM pf_export_requests WHERE export_type = 'deidentified_dataset' AND pii_phi_filtered",
        )
        .fetch_one(pool).await.unwrap()
    });
    assert_eq!(filtered, 2);
    let audited: Vec<String> = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT CAST(payload AS TEXT) FROM pf_audit_logs WHERE event = 'export_request_completed'")
            .fetch_all(pool).await.unwrap()
    });
    for payload in audited {
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(payload["pii_phi_filtered"], true);
    }
}

/// `text` with every run of exactly 32 hex digits (a pseudonym) replaced by `#`.
fn without_pseudonyms(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 32 { "#" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

async fn an_export_never_contains_another_organisations_rows(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, cookie) = setup(&app).await;
    let others: Vec<String> = other_fixture()
        .into_iter()
        .flat_map(|(_, rows)| rows.into_iter().map(|row| row[0].1.clone()))
        .filter_map(|value| match value {
            Value::Text(id) => Some(id),
            _ => None,
        })
        .collect();
    for (export_type, format) in [
        ("full_organization", ExportFormat::Json),
        ("full_organization", ExportFormat::Csv),
        ("full_organization", ExportFormat::Xlsx),
        ("audit_trail", ExportFormat::Json),
    ] {
        let id = request(&app, &cookie, export_type, format.key(), &[]).await;
        assert!(matches!(work(&app).await, Outcome::Completed(_)));
        let bytes = download(&app, &cookie, id).await;
        let entities = if export_type == "audit_trail" { 1 } else { 5 };
        let text = read_back(&bytes, extension(format, entities), "audit_logs").to_string();
        assert!(!text.contains(OTHER_MARKER), "{export_type} {format:?}");
        for other in &others {
            assert!(
                !text.contains(other.as_str()),
                "{export_type} {format:?} has {other}"
            );
        }
        assert!(!text.contains("admin@other.test"));
    }
}

async fn a_file_that_cannot_be_stored_is_retried_then_failed_and_nothing_is_left(backend: Backend) {
    // A store nobody answers at: every upload fails, an infrastructure failure each time, retried
    // after 1 s, then 2 s (±20 %), until the budget of 3 attempts is spent.
    let mut env = common::unreachable_store_env().to_vec();
    env.extend([("WORKER_RETRY_BACKOFF_SECS", "1,2"), ("WORKER_MAX_ATTEMPTS", "3")]);
    let app = TestApp::with_env(backend, &env).await;
    let (_, cookie) = setup(&app).await;
    let id = request(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    let worker = Worker::new(WorkerContext::of(&app.state));
    let policy = app.state.config.worker.retry.clone();
    for attempt in 1..=3 {
        let before = Utc::now();
        let outcome = worker
            .process_next(&CancellationToken::new())
            .await
            .unwrap()
            .expect("runnable");
        let after = Utc::now();
        if attempt == 3 {
            assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
            break;
        }
        assert!(
            matches!(outcome, Outcome::Retrying),
            "attempt {attempt}: {outcome:?}"
        );
        let (status, run_at): (String, chrono::DateTime<Utc>) = with_db!(&app.state.db, pool => {
            sqlx::query_as("SELECT status, run_at FROM pf_export_requests WHERE id = $1")
                .bind(id).fetch_one(pool).await.unwrap()
        });
        assert_eq!(status, "pending");
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
    let (status, error, key): (String, String, Option<String>) = with_db!(&app.state.db, pool => {
        sqlx::query_as("SELECT status, error, storage_key FROM pf_export_requests WHERE id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    });
    assert_eq!(status, "failed");
    assert_eq!(error, "The file could not be stored. Request the export again.");
    assert_eq!(key, None);
    assert_eq!(app.audit_count("export_request_failed").await, 1);
    // The page shows the message, and there is nothing to download.
    let page = app
        .call("list_export_requests", &[("page", "1")], Some(&cookie))
        .await
        .json();
    assert_eq!(page["items"][0]["error"], error);
    let signed = app
        .call("sign_download_url", &[("id", &id.to_string())], Some(&cookie))
        .await;
    assert_eq!(signed.status, StatusCode::CONFLICT);
}

async fn data_a_format_cannot_hold_fails_at_once_with_a_message_saying_why(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (organization_id, cookie) = setup(&app).await;
    let huge = "x".repeat(40_000);
    with_db!(&app.state.db, pool => {
        sqlx::query("UPDATE appointments SET notes = $1 WHERE organization_id = $2 AND id = $3")
            .bind(&huge).bind(organization_id).bind(id(3, 2)).execute(pool).await.unwrap();
    });
    let id = request(&app, &cookie, "selected_records", "xlsx", &["appointments"]).await;
    let Outcome::Failed(message) = work(&app).await else {
        panic!("expected a failure");
    };
    assert!(message.contains("32,767"), "{message}");
    let (status, attempt, error): (String, i32, String) = with_db!(&app.state.db, pool => {
        sqlx::query_as("SELECT status, attempt, error FROM pf_export_requests WHERE id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    });
    assert_eq!(
        (status.as_str(), attempt),
        ("failed", 1),
        "not retried: it would fail again"
    );
    assert_eq!(error, message);
    // The same records as CSV are fine.
    let id = request(&app, &cookie, "selected_records", "csv", &["appointments"]).await;
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    let file = read_back(&download(&app, &cookie, id).await, "csv", "appointments");
    assert_eq!(file["entities"]["appointments"]["rows"][1][8], json!(huge));
}

async fn exports_are_stored_on_s3_and_downloaded_from_it(backend: Backend) {
    let app = TestApp::with_s3(backend, &[]).await;
    let (_, cookie) = setup(&app).await;
    for (format, entities) in [
        (ExportFormat::Xlsx, vec![EntityType::Clients, EntityType::Staff]),
        (ExportFormat::Csv, vec![EntityType::Appointments]),
        (
            ExportFormat::Json,
            vec![EntityType::Claims, EntityType::Encounters],
        ),
    ] {
        let keys: Vec<&str> = entities.iter().map(|e| e.key()).collect();
        let id = request(&app, &cookie, "selected_records", format.key(), &keys).await;
        assert!(matches!(work(&app).await, Outcome::Completed(_)));
        let bytes = download(&app, &cookie, id).await;
        let file = read_back(&bytes, extension(format, entities.len()), keys[0]);
        for entity in entities {
            assert_eq!(
                file["entities"][entity.key()],
                expected_table(format, entity),
                "{format:?}"
            );
        }
        if format == ExportFormat::Xlsx {
            for sheet in ["clients", "staff"] {
                assert_eq!(file["sheets"][sheet]["freeze"], "A2", "header row frozen");
                assert_eq!(file["sheets"][sheet]["header_bold"], true);
            }
        }
    }
}

/// The status, attempt, progress and storage key of request `id`.
async fn request_state(app: &TestApp, id: Uuid) -> (String, i32, i32, Option<String>) {
    with_db!(&app.state.db, pool => {
        sqlx::query_as("SELECT status, attempt, progress, storage_key FROM pf_export_requests WHERE id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    })
}

/// An app on a local store that worker processes can share, seeded with enough rows that a
/// worker reading one row per query takes seconds; returns it with the workers' environment.
async fn slow_export_setup(backend: Backend) -> (TestApp, Vec<(&'static str, String)>, std::path::PathBuf) {
    let storage = common::scratch_dir(&format!("worker-store-{}", Uuid::new_v4().simple()));
    let storage_url = format!("file://{}", storage.display());
    let app = TestApp::with_env(backend, &[("STORAGE_URL", &storage_url)]).await;
    data_exports::seed::demo(&app.state.db, 10_000).await.unwrap();
    let env = vec![
        ("DATABASE_URL", app.state.config.server.database_url.clone()),
        ("STORAGE_URL", storage_url),
        ("EXPORT_BATCH_ROWS", "1".to_owned()),
        ("WORKER_LEASE_SECS", "2".to_owned()),
        ("WORKER_RETRY_BACKOFF_SECS", "1".to_owned()),
        ("WORKER_POLL_SECS", "1".to_owned()),
        ("WORKER_CONCURRENCY", "1".to_owned()),
    ];
    (app, env, storage)
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Waits until a worker has made progress on request `id` (and has not finished it).
async fn wait_until_under_way(app: &TestApp, id: Uuid) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, _, progress, _) = request_state(app, id).await;
        assert_ne!(
            status, "completed",
            "finished before the test could interrupt it: slow it down"
        );
        if status == "processing" && progress >= 1 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the worker never got going");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn a_worker_killed_mid_export_is_replaced_and_the_export_completes_once(backend: Backend) {
    use std::time::{Duration, Instant};
    let (app, env, storage) = slow_export_setup(backend).await;
    let mut first = common::TestServer::worker("kill-first", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = request(&app, &cookie, "full_organization", "csv", &[]).await;
    wait_until_under_way(&app, id).await;
    first.kill();
    let (status, attempt, _, key) = request_state(&app, id).await;
    assert_eq!((status.as_str(), attempt, key), ("processing", 1, None));
    let export_dir = storage.join(format!("pf-exports/{}/{id}", app_org(&app).await));
    // A killed worker leaves its hidden temporary file, never a visible object.
    assert_eq!(files_under(&export_dir), vec![".export-1.zip.partial".to_owned()]);

    let _second = common::TestServer::worker("kill-second", &env_refs(&env));
    let deadline = Instant::now() + Duration::from_secs(120);
    let key = loop {
        let (status, attempt, _, key) = request_state(&app, id).await;
        if status == "completed" {
            assert_eq!(attempt, 2, "completed by the second attempt");
            break key.unwrap();
        }
        assert_ne!(status, "failed");
        assert!(Instant::now() < deadline, "the second worker never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The completion noted the dead attempt's file; the worker deletes it right after committing.
    loop {
        let noted: i64 = with_db!(&app.state.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM pf_object_deletions").fetch_one(pool).await.unwrap()
        });
        if noted == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dead attempt's file was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        files_under(&export_dir),
        vec!["export-2.zip".to_owned()],
        "exactly one object, and the dead attempt's temporary file gone"
    );
    assert!(key.ends_with("/export-2.zip"));
    assert_eq!(app.audit_count("export_request_completed").await, 1);
    let file = read_back(&download(&app, &cookie, id).await, "zip", "");
    let organization_id = app_org(&app).await;
    for entity in data_exports::exports::catalog::RECORD_ENTITIES {
        let count: i64 = with_db!(&app.state.db, pool => {
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {} WHERE organization_id = $1", entity.table()))
                .bind(organization_id).fetch_one(pool).await.unwrap()
        });
        let rows = file["entities"][entity.key()]["rows"].as_array().unwrap().len();
        assert_eq!(rows as i64, count, "{entity:?}");
    }
}

async fn a_worker_killed_mid_upload_leaves_no_parts_on_s3(backend: Backend) {
    use std::time::{Duration, Instant};
    let s3_root = std::path::PathBuf::from(common::env("TEST_S3_ROOT"));
    let s3 = common::s3_env().await;
    let app = TestApp::with_env(backend, &env_refs(&s3)).await;
    // Enough rows for a JSON file of several 5 MiB parts.
    data_exports::seed::demo(&app.state.db, 40_000).await.unwrap();
    let mut env = s3.clone();
    env.extend([
        ("DATABASE_URL", app.state.config.server.database_url.clone()),
        ("EXPORT_BATCH_ROWS", "20".to_owned()),
        ("WORKER_LEASE_SECS", "2".to_owned()),
        ("WORKER_RETRY_BACKOFF_SECS", "1".to_owned()),
        ("WORKER_POLL_SECS", "1".to_owned()),
        ("WORKER_CONCURRENCY", "1".to_owned()),
    ]);
    let mut first = common::TestServer::worker("s3-kill-first", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = request(&app, &cookie, "full_organization", "json", &[]).await;
    let noted = || async {
        let ids: Vec<String> = with_db!(&app.state.db, pool => {
            sqlx::query_scalar("SELECT upload_id FROM pf_export_uploads WHERE export_request_id = $1")
                .bind(id).fetch_all(pool).await.unwrap()
        });
        ids
    };
    // How s3s-fs keeps an open upload: `.upload-<id>.json`, and its parts as `.upload_id-<id>.part-<n>`.
    let first_part = |upload: &str| s3_root.join(format!(".upload_id-{upload}.part-1"));
    let upload_info = |upload: &str| s3_root.join(format!(".upload-{upload}.json"));
    // Kill the worker once its first part is in the bucket.
    let deadline = Instant::now() + Duration::from_secs(120);
    let upload = loop {
        let (status, ..) = request_state(&app, id).await;
        assert!(
            status == "pending" || status == "processing",
            "{status} before the test could interrupt it: slow it down"
        );
        if let Some(upload) = noted().await.pop()
            && first_part(&upload).exists()
        {
            break upload;
        }
        assert!(Instant::now() < deadline, "the worker never sent a part");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.kill();
    assert_eq!(request_state(&app, id).await.0, "processing");
    assert!(
        upload_info(&upload).exists() && first_part(&upload).exists(),
        "the killed worker's upload is open on the server"
    );

    let _second = common::TestServer::worker("s3-kill-second", &env_refs(&env));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, attempt, ..) = request_state(&app, id).await;
        if status == "completed" {
            assert_eq!(attempt, 2, "completed by the second attempt");
            break;
        }
        assert_ne!(status, "failed");
        assert!(Instant::now() < deadline, "the second worker never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The dead attempt's upload was aborted: its parts are gone from the server and its note
    // from the journal.
    assert!(noted().await.is_empty(), "an upload is still noted");
    let leftovers: Vec<String> = files_under(&s3_root)
        .into_iter()
        .filter(|f| f.contains(&upload))
        .collect();
    assert!(leftovers.is_empty(), "the dead upload left {leftovers:?}");
    let file = read_back(&download(&app, &cookie, id).await, "json", "");
    let appointments: i64 = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM appointments WHERE organization_id = $1")
            .bind(app_org(&app).await).fetch_one(pool).await.unwrap()
    });
    let rows = file["entities"]["appointments"]["rows"].as_array().unwrap().len();
    assert_eq!(rows as i64, appointments);
}

async fn sigterm_hands_a_running_export_back_after_the_grace_period(backend: Backend) {
    let (app, mut env, storage) = slow_export_setup(backend).await;
    env.push(("WORKER_SHUTDOWN_GRACE_SECS", "1".to_owned()));
    let mut worker = common::TestServer::worker("sigterm", &env_refs(&env));
    let cookie = app.login("admin@acme.test").await;
    let id = request(&app, &cookie, "full_organization", "json", &[]).await;
    // Claimed is enough: waiting for progress as well could leave less than the grace period
    // of work on a busy machine, and the export would rightly complete.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while request_state(&app, id).await.0 != "processing" {
        assert!(std::time::Instant::now() < deadline, "never claimed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = worker.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        worker
            .wait_for_line("shut down cleanly", std::time::Duration::from_secs(5))
            .is_some()
    );
    // Pending again, its attempt spent but its budget grown by one: a shutdown costs nothing.
    let (status, attempt, progress, key) = request_state(&app, id).await;
    assert_eq!((status.as_str(), attempt, progress, key), ("pending", 1, 0, None));
    let max_attempts: i32 = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT max_attempts FROM pf_export_requests WHERE id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    });
    assert_eq!(max_attempts, data_exports::retry::DEFAULT_MAX_ATTEMPTS + 1);
    let export_dir = storage.join(format!("pf-exports/{}/{id}", app_org(&app).await));
    assert!(
        files_under(&export_dir).is_empty(),
        "an interrupted export left a file"
    );
    assert_eq!(app.audit_count("export_request_failed").await, 0);
}

/// Acme's id.
async fn app_org(app: &TestApp) -> Uuid {
    with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'acme-behavioral-health'")
            .fetch_one(pool).await.unwrap()
    })
}

async fn files_of_attempts_killed_after_their_upload_are_removed(backend: Backend) {
    // Taken over as soon as the lease runs out: this test is about files, not back-off.
    let app = TestApp::with_env(backend, &[("WORKER_RETRY_BACKOFF_SECS", "0")]).await;
    let (organization_id, cookie) = setup(&app).await;
    let db = &app.state.db;
    let export_dir = app
        .state
        .config
        .server
        .data_dir
        .join(format!("storage/pf-exports/{organization_id}"));
    let files = |id: Uuid| -> Vec<String> {
        let mut found = files_under(&export_dir.join(id.to_string()));
        found.sort();
        found
    };
    // Attempt 1 uploaded its file and died before recording it: simulated by claiming, writing
    // the object, and letting the lease run out.
    let storage = &app.state.storage;
    let retry = &app.state.config.worker.retry;
    let orphan = |id: Uuid| async move {
        let claim = data_exports::exports::queue::claim(
            db,
            "dead-worker",
            std::time::Duration::from_millis(1),
            retry,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!((claim.id(), claim.attempt), (id, 1));
        let key = data_exports::storage::ObjectKey::export_file(organization_id, id, 1, "csv");
        storage
            .put_stream(
                &key,
                "text/csv",
                futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"id\n"))]),
            )
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let id = request(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    orphan(id).await;
    assert_eq!(files(id), vec!["export-1.csv".to_owned()]);
    let Outcome::Completed(produced) = work(&app).await else {
        panic!("the second attempt should complete");
    };
    assert!(produced.key.as_str().ends_with("/export-2.csv"));
    assert_eq!(
        files(id),
        vec!["export-2.csv".to_owned()],
        "attempt 1's file removed"
    );

    // Deleting a request removes every attempt's file, recorded or not.
    let id = request(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    orphan(id).await;
    let key = data_exports::storage::ObjectKey::export_file(organization_id, id, 1, "csv");
    with_db!(db, pool => {
        // Attempt 2 is now pending (as if it had been released), attempt 1's file still there.
        sqlx::query("UPDATE pf_export_requests SET status = 'failed', lease_expires_at = NULL WHERE id = $1")
            .bind(id).execute(pool).await.unwrap();
    });
    assert!(app.state.storage.exists(&key).await.unwrap());
    let deleted = app
        .call("delete_export_request", &[("id", &id.to_string())], Some(&cookie))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert!(
        !app.state.storage.exists(&key).await.unwrap(),
        "the unrecorded file went with the entry"
    );
}

async fn deleting_a_request_aborts_the_upload_a_killed_attempt_left(backend: Backend) {
    let app = TestApp::with_s3(backend, &[]).await;
    let (organization_id, cookie) = setup(&app).await;
    let s3_root = std::path::PathBuf::from(common::env("TEST_S3_ROOT"));
    let id = request(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    // Attempt 1 sends a part and dies: its writer is never finished, aborted or dropped.
    let key = data_exports::storage::ObjectKey::export_file(organization_id, id, 1, "csv");
    let journal = data_exports::exports::uploads::Journal::new(app.state.db.clone(), id);
    let mut writer = app
        .state
        .storage
        .writer(&key, "text/csv")
        .await
        .unwrap()
        .with_journal(std::sync::Arc::new(journal));
    writer.write(&vec![b'x'; 5 * 1024 * 1024]).await.unwrap();
    std::mem::forget(writer);
    let upload: String = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT upload_id FROM pf_export_uploads WHERE export_request_id = $1")
            .bind(id).fetch_one(pool).await.unwrap()
    });
    let parts = || -> Vec<String> {
        files_under(&s3_root)
            .into_iter()
            .filter(|f| f.contains(&upload))
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
    let gone = data_exports::storage::ObjectKey::export_file(organization_id, id, 2, "csv");
    let journal = data_exports::exports::uploads::Journal::new(app.state.db.clone(), id);
    let mut writer = app
        .state
        .storage
        .writer(&gone, "text/csv")
        .await
        .unwrap()
        .with_journal(std::sync::Arc::new(journal));
    writer.write(&vec![b'y'; 5 * 1024 * 1024]).await.unwrap();
    let gone_upload: String = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT upload_id FROM pf_export_uploads WHERE storage_key = $1")
            .bind(gone.as_str()).fetch_one(pool).await.unwrap()
    });
    writer.abort().await;
    with_db!(&app.state.db, pool => {
        sqlx::query("INSERT INTO pf_export_uploads (upload_id, export_request_id, storage_key, started_at) VALUES ($1, $2, $3, $4)")
            .bind(&gone_upload).bind(id).bind(gone.as_str()).bind(chrono::Utc::now()).execute(pool).await.unwrap();
    });
    // Given up on (as the sweep of abandoned requests would), then deleted from the page.
    with_db!(&app.state.db, pool => {
        sqlx::query("UPDATE pf_export_requests SET status = 'failed', attempt = 1 WHERE id = $1")
            .bind(id).execute(pool).await.unwrap();
    });
    let deleted = app
        .call("delete_export_request", &[("id", &id.to_string())], Some(&cookie))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert!(parts().is_empty(), "the dead upload left {:?}", parts());
    let noted: i64 = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM pf_export_uploads) + (SELECT COUNT(*) FROM pf_object_deletions)")
            .fetch_one(pool).await.unwrap()
    });
    assert_eq!(noted, 0, "nothing left noted");
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
        let dir = common::scratch_dir(&format!("small-disk-{}", Uuid::new_v4().simple()));
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
    let app = TestApp::with_env(backend, &[("STORAGE_URL", &storage_url)]).await;
    // Several megabytes of JSON for a one-megabyte disk.
    data_exports::seed::demo(&app.state.db, 5_000).await.unwrap();
    let cookie = app.login("admin@acme.test").await;
    let id = request(&app, &cookie, "full_organization", "json", &[]).await;
    let Outcome::Failed(message) = work(&app).await else {
        panic!("a full disk must fail the export");
    };
    assert_eq!(
        message,
        "The file store is full, so the export could not be saved. Ask your administrator to free space, then request the export again."
    );
    let (status, attempt, _, key) = request_state(&app, id).await;
    assert_eq!(
        (status.as_str(), attempt, key),
        ("failed", 1, None),
        "not retried: a full disk stays full"
    );
    assert_eq!(app.audit_count("export_request_failed").await, 1);
    let page = app
        .call("list_export_requests", &[("page", "1")], Some(&cookie))
        .await
        .json();
    assert_eq!(page["items"][0]["error"], message);
    // The half-written file is gone, so the space is free again: a small export fits.
    let pf_exports = disk.0.join("pf-exports");
    assert!(
        files_under(&pf_exports).is_empty(),
        "{:?}",
        files_under(&pf_exports)
    );
    let small = request(&app, &cookie, "selected_records", "csv", &["staff"]).await;
    assert!(matches!(work(&app).await, Outcome::Completed(_)));
    let file = read_back(&download(&app, &cookie, small).await, "csv", "staff");
    assert!(!file["entities"]["staff"]["rows"].as_array().unwrap().is_empty());
}
