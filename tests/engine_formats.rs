//! What the export engine writes, on SQLite and Postgres: every export type in every format,
//! requested through the server functions, produced by the worker, downloaded through signed URLs
//! (from the local store and from S3) and read back by Python's csv/zipfile/json modules and
//! openpyxl (`tests/support/read_export.py`), never by our own code — cell for cell against the
//! fixture clinic; de-identified exports keep no identifier; no export holds another
//! organisation's rows.

#![cfg(feature = "ssr")]

mod common;

use chrono::Datelike;
use common::{
    Backend, OTHER_MARKER, RequestStatus, TestApp, count, create_export, download, fixture, other_fixture,
    read_back, request_state, setup_fixture, strings, work,
};
use data_exports::{
    audit::{self, AuditEntry, AuditEvent},
    engine::{
        source::{EntityReader, Order, Snapshot},
        value::Value,
        worker::Outcome,
    },
    exports::model::{ExportFormat, ExportType},
    records::{Deidentify, EntityType},
    with_db,
};
use futures::TryStreamExt;
use serde_json::json;

on_both_databases!(
    every_type_in_every_format_reads_back_exactly,
    de_identified_exports_keep_no_identifier,
    de_identified_files_line_up_with_no_other_file,
    a_shuffled_read_returns_every_row_once_and_lets_writers_in,
    an_export_never_contains_another_organisations_rows,
    exports_are_stored_on_s3_and_downloaded_from_it,
);

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

/// The payloads of the audit log's `export_request_completed` entries.
async fn completions_audited(app: &TestApp) -> Vec<serde_json::Value> {
    let payloads: Vec<String> = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT CAST(payload AS TEXT) FROM pf_audit_logs WHERE event = 'export_request_completed'")
            .fetch_all(pool).await.unwrap()
    });
    payloads
        .iter()
        .map(|payload| serde_json::from_str(payload).unwrap())
        .collect()
}

async fn every_type_in_every_format_reads_back_exactly(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (organization_id, cookie) = setup_fixture(&app).await;
    // The other organisation's entries take global ids between ours.
    app.login("admin@other.test").await;
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
            let id = create_export(&app, &cookie, export_type.key(), format.key(), &keys).await;
            let Outcome::Completed(produced) = work(&app).await else {
                panic!("{context} did not complete");
            };
            let bytes = download(&app, &cookie, id).await;
            assert_eq!(bytes.len() as u64, produced.size, "{context}: stored size");
            let file = read_back(&bytes, format.extension(entities.len()), entities[0].key());
            let tables = file["entities"].as_object().unwrap();
            let mut names: Vec<&String> = tables.keys().collect();
            names.sort();
            let mut want: Vec<&str> = keys.clone();
            want.sort();
            assert_eq!(names, want, "{context}: entities");

            let state = request_state(&app, id).await;
            assert_eq!(state.status(), "completed", "{context}");
            let rows_read: usize = tables.values().map(|t| t["rows"].as_array().unwrap().len()).sum();
            assert_eq!(
                state.request.row_count,
                Some(rows_read as i64),
                "{context}: row_count"
            );

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
                        let header: Vec<&str> = ExportType::DeidentifiedDataset
                            .columns(*entity)
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
                    // Numbered per organisation (1, 2, 3…), whatever the other one did.
                    let ours: Vec<i64> = with_db!(&app.state.db, pool => {
                        sqlx::query_scalar("SELECT org_seq FROM pf_audit_logs WHERE organization_id = $1 ORDER BY org_seq")
                            .bind(organization_id).fetch_all(pool).await.unwrap()
                    });
                    assert_eq!(
                        ours,
                        (1..=ours.len() as i64).collect::<Vec<_>>(),
                        "{context}: gaps"
                    );
                    let others: i64 = count(
                        &app,
                        "SELECT COUNT(*) FROM pf_audit_logs WHERE organization_id IS NOT NULL",
                    )
                    .await;
                    assert!(
                        others > ours.len() as i64,
                        "{context}: the other organisation has entries too"
                    );
                    let exported: Vec<i64> = table["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|row| row[0].as_str().unwrap().parse().unwrap())
                        .collect();
                    assert!(!exported.is_empty(), "{context}");
                    assert_eq!(
                        exported,
                        (1..=exported.len() as i64).collect::<Vec<_>>(),
                        "{context}: numbering"
                    );
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
    let payloads = completions_audited(&app).await;
    let offered: usize = ExportType::ALL.iter().map(|t| t.formats().len()).sum();
    assert_eq!(payloads.len(), offered);
    for payload in payloads {
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
    let (_, cookie) = setup_fixture(&app).await;
    let all = ["clients", "appointments", "encounters", "claims", "staff"];
    for format in [ExportFormat::Json, ExportFormat::Csv] {
        let id = create_export(&app, &cookie, "deidentified_dataset", format.key(), &all).await;
        let outcome = work(&app).await;
        assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
        let bytes = download(&app, &cookie, id).await;
        // The records as written (inside the ZIP's CSVs too, not only its compressed bytes),
        // without the manifest, whose instants and request id are not the organisation's data
        // and could spell a secret's digits by chance.
        let mut document: serde_json::Value = if format == ExportFormat::Json {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            read_back(&bytes, "zip", "")
        };
        let manifest = document.as_object_mut().unwrap().remove("manifest").unwrap();
        assert_eq!(manifest["de_identified"], true, "{format:?}");
        let text = document.to_string();
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
        let file = read_back(&bytes, format.extension(all.len()), "");
        let clients = &file["entities"]["clients"];
        assert_eq!(
            strings(&clients["header"]),
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
        // Rows come in an order of their own: each client is found by what the file says of them.
        let client = |born: &str| {
            rows.iter()
                .find(|row| row[1] == born)
                .unwrap_or_else(|| panic!("{format:?}: no client born {born}"))
        };
        let (sean, ada, third) = (client("90+"), client("1985"), client("1999"));
        assert_eq!(rows.len(), 3);
        assert_eq!(sean[4], "000", "restricted ZIP3 036");
        assert_eq!(ada[4], "941");
        assert_eq!(third[4], serde_json::Value::Null, "not a ZIP code: withheld");
        assert_eq!(sean[6], "2021", "dates keep the year only");
        for row in rows {
            let pseudonym = row[0].as_str().unwrap();
            assert_eq!(pseudonym.len(), 32);
            assert!(pseudonym.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        // Pseudonyms still join: Seán's appointment is the 50-minute one, Ada's the 30-minute
        // one; the encounter is of Seán's appointment; the claim with an encounter is his.
        let appointments = file["entities"]["appointments"]["rows"].as_array().unwrap();
        let appointment = |minutes: &str| appointments.iter().find(|row| row[4] == minutes).unwrap();
        assert_eq!(appointment("50")[1], sean[0]);
        assert_eq!(appointment("30")[1], ada[0]);
        assert_eq!(
            appointment("50")[3],
            "2024",
            "appointment instants keep the year only"
        );
        let encounters = file["entities"]["encounters"]["rows"].as_array().unwrap();
        assert_eq!(encounters[0][3], appointment("50")[0]);
        let claims = file["entities"]["claims"]["rows"].as_array().unwrap();
        let (with_encounter, without): (Vec<_>, Vec<_>) = claims.iter().partition(|row| !row[2].is_null());
        assert_eq!(with_encounter[0][1], sean[0]);
        assert_eq!(without[0][1], ada[0]);
        let staff_header = &file["entities"]["staff"]["header"];
        assert_eq!(staff_header, &json!(["id", "job_title", "hired_on", "active"]));
    }
    // Recorded as filtered, on the request and in the audit log.
    let filtered = count(
        &app,
        "SELECT COUNT(*) FROM pf_export_requests WHERE export_type = 'deidentified_dataset' AND pii_phi_filtered",
    )
    .await;
    assert_eq!(filtered, 2);
    for payload in completions_audited(&app).await {
        assert_eq!(payload["pii_phi_filtered"], true);
    }
}

/// One entity's table of a downloaded file.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
}

impl Table {
    /// What Safe Harbor leaves of each row, as text, in file order: the columns kept as they
    /// are, the years of the dates, and birth years as a de-identified file gives them.
    fn kept(&self, entity: EntityType) -> Vec<String> {
        let kept: Vec<(usize, Option<Deidentify>)> = ExportType::DeidentifiedDataset
            .columns(entity)
            .iter()
            .filter(|c| !matches!(c.deidentify, Deidentify::Pseudonym | Deidentify::Zip3))
            .map(|c| {
                let at = self.header.iter().position(|h| h == c.name).unwrap();
                (at, (c.deidentify != Deidentify::Keep).then_some(c.deidentify))
            })
            .collect();
        // A birth year of someone who may be 90 or older (see `Deidentify::BirthYear`).
        let old = |year: &str| chrono::Utc::now().year() - year.parse::<i32>().unwrap() >= 90;
        self.rows
            .iter()
            .map(|row| {
                kept.iter()
                    .map(|&(at, year)| {
                        let text = row[at].as_str().unwrap_or("").to_owned();
                        match year.filter(|_| text.len() >= 4 && text != "90+") {
                            Some(Deidentify::BirthYear) if old(&text[..4]) => "90+".to_owned(),
                            Some(_) => text[..4].to_owned(),
                            None => text,
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }
}

/// Downloads request `id`'s file and returns its tables by entity key.
async fn tables_of(
    app: &TestApp,
    cookie: &str,
    id: uuid::Uuid,
    format: ExportFormat,
    entities: usize,
) -> std::collections::BTreeMap<String, Table> {
    let bytes = download(app, cookie, id).await;
    let file = read_back(&bytes, format.extension(entities), "");
    file["entities"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, table)| {
            let header = strings(&table["header"]).into_iter().map(String::from).collect();
            let rows = table["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row.as_array().unwrap().clone())
                .collect();
            (key.clone(), Table { header, rows })
        })
        .collect()
}

/// At how many positions two files' rows say the same.
fn aligned(one: &[String], other: &[String]) -> usize {
    one.iter().zip(other).filter(|(a, b)| a == b).count()
}

/// How many positions two files in independent random orders of `rows` agree at, on average:
/// each position agrees when the rows there say the same, which for a row in a group of `g`
/// alike happens with probability `g / n` — summed, `Σ g² / n` (1 when all rows differ: the one
/// fixed point a random permutation has on average).
fn expected_alignment(rows: &[String]) -> f64 {
    let mut groups = std::collections::HashMap::<&str, usize>::new();
    for row in rows {
        *groups.entry(row.as_str()).or_default() += 1;
    }
    groups.values().map(|g| (g * g) as f64).sum::<f64>() / rows.len() as f64
}

/// The issue that found this: row *i* of a de-identified file was row *i* of an identified
/// export of the same records (read in real-id order), and of every other de-identified export.
async fn de_identified_files_line_up_with_no_other_file(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[], 600).await;
    let cookie = app.login("admin@acme.test").await;
    let keys = ["clients", "appointments"];
    for format in [ExportFormat::Csv, ExportFormat::Json] {
        let mut files = Vec::new();
        for export_type in ["selected_records", "deidentified_dataset", "deidentified_dataset"] {
            let id = create_export(&app, &cookie, export_type, format.key(), &keys).await;
            assert!(
                matches!(work(&app).await, Outcome::Completed(_)),
                "{format:?} {export_type}"
            );
            files.push(tables_of(&app, &cookie, id, format, keys.len()).await);
        }
        let [identified, first, second] = &files[..] else {
            unreachable!()
        };
        for entity in [EntityType::Clients, EntityType::Appointments] {
            let key = entity.key();
            let context = format!("{format:?}, {key}");
            let (plain, one, two) = (
                identified[key].kept(entity),
                first[key].kept(entity),
                second[key].kept(entity),
            );
            let n = plain.len();
            assert!(n >= 60, "{context}: {n} rows are too few to tell");
            // The same records, every one of them.
            let sorted = |rows: &[String]| {
                let mut rows = rows.to_vec();
                rows.sort();
                rows
            };
            assert_eq!(sorted(&one), sorted(&plain), "{context}");
            assert_eq!(sorted(&two), sorted(&plain), "{context}");
            // Rows differ enough that an order shared by two files would show (in real-id
            // order, every position agreed); a fresh order agrees about as often as chance.
            let expected = expected_alignment(&plain);
            assert!(
                expected < n as f64 / 8.0,
                "{context}: rows too alike to tell ({expected:.1} of {n})"
            );
            // Far in the tail of chance (about 1e-15 for all-distinct rows), far below n.
            let limit = (expected + 6.0 * expected.sqrt() + 10.0) as usize;
            for (what, a, b) in [
                ("identified", &plain, &one),
                ("identified", &plain, &two),
                ("de-identified", &one, &two),
            ] {
                let same = aligned(a, b);
                assert!(
                    same <= limit,
                    "{context}: {same} of {n} rows line up with the {what} file (chance: {expected:.1})"
                );
            }
            // Nor do the pseudonyms (each file has its own).
            let ids = |table: &Table| {
                table
                    .rows
                    .iter()
                    .map(|row| row[0].to_string())
                    .collect::<std::collections::BTreeSet<_>>()
            };
            assert!(ids(&first[key]).is_disjoint(&ids(&second[key])), "{context}");
        }
        // Within each file, appointments still join their clients: as many per client as in the
        // identified file.
        for file in [identified, first, second] {
            let mut per_client = std::collections::BTreeMap::<String, usize>::new();
            let clients: std::collections::BTreeSet<String> = file["clients"]
                .rows
                .iter()
                .map(|row| row[0].as_str().unwrap().to_owned())
                .collect();
            for row in &file["appointments"].rows {
                let client = row[1].as_str().unwrap().to_owned();
                assert!(
                    clients.contains(&client),
                    "{format:?}: an appointment of no client in the file"
                );
                *per_client.entry(client).or_default() += 1;
            }
            let mut counts: Vec<usize> = per_client.into_values().collect();
            counts.sort();
            let mut want: Vec<usize> = {
                let mut per_client = std::collections::BTreeMap::<String, usize>::new();
                for row in &identified["appointments"].rows {
                    *per_client.entry(row[1].as_str().unwrap().to_owned()).or_default() += 1;
                }
                per_client.into_values().collect()
            };
            want.sort();
            assert_eq!(counts, want, "{format:?}");
        }
    }
}

/// The shuffled read itself: each row exactly once, in an order that is neither the ids' nor
/// the last read's, while other connections go on writing (SQLite's temporary table is not the
/// database's write lock).
async fn a_shuffled_read_returns_every_row_once_and_lets_writers_in(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[], 600).await;
    let db = &app.state.db;
    let acme = common::organization_id(&app, "acme-behavioral-health").await;
    let columns = EntityType::Appointments.columns().to_vec();
    let mut orders = Vec::new();
    for _ in 0..2 {
        let mut snapshot = Snapshot::open(db).await.unwrap();
        let reader = EntityReader::new(
            acme,
            EntityType::Appointments,
            columns.clone(),
            None,
            Order::Shuffled,
            64,
        );
        let mut ids = Vec::new();
        let mut batches = snapshot.batches(&reader);
        while let Some(batch) = batches.try_next().await.unwrap() {
            assert!(batch.len() <= 64);
            ids.extend(batch.into_iter().map(|row| match &row[0] {
                Value::Text(id) => id.clone(),
                other => panic!("{other:?}"),
            }));
            // Another connection writes while the read is under way, within the busy timeout.
            let write = audit::record(db, AuditEntry::new(AuditEvent::AccessDenied).organization(acme));
            tokio::time::timeout(std::time::Duration::from_secs(2), write)
                .await
                .expect("a writer waited on the shuffled read")
                .unwrap();
        }
        drop(batches);
        snapshot.close().await.unwrap();
        orders.push(ids);
    }
    let stored: Vec<String> = with_db!(db, pool => {
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM appointments WHERE organization_id = $1 ORDER BY id")
            .bind(acme).fetch_all(pool).await.unwrap()
    })
    .into_iter()
    .map(|id| id.to_string())
    .collect();
    assert_eq!(stored.len(), 600);
    for order in &orders {
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, stored, "every row exactly once");
        assert!(aligned(order, &stored) < 30, "close to id order");
    }
    assert!(
        aligned(&orders[0], &orders[1]) < 30,
        "two reads in nearly the same order"
    );
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
    let (_, cookie) = setup_fixture(&app).await;
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
        let id = create_export(&app, &cookie, export_type, format.key(), &[]).await;
        assert!(matches!(work(&app).await, Outcome::Completed(_)));
        let bytes = download(&app, &cookie, id).await;
        let entities = if export_type == "audit_trail" { 1 } else { 5 };
        let text = read_back(&bytes, format.extension(entities), "audit_logs").to_string();
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

async fn exports_are_stored_on_s3_and_downloaded_from_it(backend: Backend) {
    let app = TestApp::with_s3(backend, &[]).await;
    let (_, cookie) = setup_fixture(&app).await;
    for (format, entities) in [
        (ExportFormat::Xlsx, vec![EntityType::Clients, EntityType::Staff]),
        (ExportFormat::Csv, vec![EntityType::Appointments]),
        (
            ExportFormat::Json,
            vec![EntityType::Claims, EntityType::Encounters],
        ),
    ] {
        let keys: Vec<&str> = entities.iter().map(|e| e.key()).collect();
        let id = create_export(&app, &cookie, "selected_records", format.key(), &keys).await;
        assert!(matches!(work(&app).await, Outcome::Completed(_)));
        let bytes = download(&app, &cookie, id).await;
        let file = read_back(&bytes, format.extension(entities.len()), keys[0]);
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
