//! The accounting of disclosures, on SQLite and Postgres: the ledger the engine writes with each
//! identified export's completion (through any record type, within the export's dates and record
//! types, never for a de-identified one, exactly once whatever attempt wins), kept when the
//! history row is deleted or the file expires, forgotten after its retention; and the server
//! functions and page that read it (permission, organisation, audit, files, hostile input).

#![cfg(feature = "ssr")]

mod common;

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use common::{
    ACME, Backend, TestApp, count_for, create_export, eventually, fetch, id_of, killed_after_upload,
    next_attempt, organization_id, request_exists, work,
};
use data_exports::{disclosures::ledger, engine::worker::Outcome, exports::lifecycle, with_db};
use http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

on_both_databases!(
    a_client_is_in_an_export_through_any_record_type_and_only_within_its_scope,
    a_killed_attempt_leaves_no_ledger_and_the_winner_exactly_one,
    deleting_the_history_row_and_expiring_the_file_keep_the_ledger,
    the_ledger_is_forgotten_once_kept_long_enough,
    the_accounting_is_for_its_permission_and_organisation_only_and_is_audited,
    the_accounting_downloads_as_csv_and_as_a_letter_with_no_internal_ids,
    hostile_input_is_refused_with_a_sentence,
    the_page_finds_a_client_and_shows_their_accounting_without_javascript,
    a_client_numbered_while_an_export_ran_keeps_their_number,
);

/// Creates an export with this request body (as the dialog sends it) and lets the worker produce
/// it; returns its id.
async fn produced(app: &TestApp, cookie: &str, request: Value) -> Uuid {
    let response = app
        .call_json(
            "create_export_request",
            &json!({ "request": request }),
            Some(cookie),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let id = id_of(&response);
    assert!(matches!(work(app).await, Outcome::Completed(_)), "produced");
    id
}

/// An identified export of `entities`, stated as for the quality team.
fn identified(entities: &[&str]) -> Value {
    json!({
        "export_type": "selected_records",
        "export_format": "csv",
        "entity_types": entities,
        "purpose": "health_care_operations",
        "recipient": "internal: quality team",
    })
}

/// The exports the ledger says carried `client`'s records (all it keeps), newest first.
async fn ledger_of(app: &TestApp, client: Uuid) -> Vec<Uuid> {
    let organization = organization_id(app, ACME).await;
    let (from, until) = (
        Utc::now() - TimeDelta::days(3650),
        Utc::now() + TimeDelta::days(1),
    );
    ledger::for_client(&app.state.db, organization, client, from, until)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.export_request_id)
        .collect()
}

/// The first id `sql` answers with Acme's id as `$1`.
async fn one_id(app: &TestApp, sql: &str) -> Uuid {
    let organization = organization_id(app, ACME).await;
    with_db!(&app.state.db, pool => {
        sqlx::query_scalar(sql).bind(organization).fetch_one(pool).await.unwrap()
    })
}

/// A client of Acme who has a claim, the day of it, and a client who has no claim that day.
async fn claim_day(app: &TestApp) -> (Uuid, NaiveDate, Uuid) {
    let organization = organization_id(app, ACME).await;
    let (client, day): (Uuid, NaiveDate) = with_db!(&app.state.db, pool => {
        sqlx::query_as(
            "SELECT client_id, submitted_on FROM claims WHERE organization_id = $1 ORDER BY submitted_on, id LIMIT 1",
        )
        .bind(organization)
        .fetch_one(pool)
        .await
        .unwrap()
    });
    let other: Uuid = with_db!(&app.state.db, pool => {
        sqlx::query_scalar(
            "SELECT id FROM clients c WHERE organization_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM claims WHERE client_id = c.id AND submitted_on = $2) ORDER BY id LIMIT 1",
        )
        .bind(organization)
        .bind(day)
        .fetch_one(pool)
        .await
        .unwrap()
    });
    (client, day, other)
}

async fn a_client_is_in_an_export_through_any_record_type_and_only_within_its_scope(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("admin@acme.test").await;
    // Appointments without their client_id column: the engine still knows whose they are.
    let mut appointments = identified(&["appointments"]);
    appointments["columns"] = json!({ "appointments": ["id", "starts_at", "status"] });
    let by_appointment = produced(&app, &cookie, appointments).await;
    let (claimant, day, not_that_day) = claim_day(&app).await;
    let mut claims = identified(&["claims"]);
    claims["date_from"] = json!(day.to_string());
    claims["date_to"] = json!(day.to_string());
    let by_claim = produced(&app, &cookie, claims).await;
    let staff_only = produced(&app, &cookie, identified(&["staff"])).await;
    let deidentified = produced(
        &app,
        &cookie,
        json!({ "export_type": "deidentified_dataset", "export_format": "csv", "entity_types": ["clients", "claims"] }),
    )
    .await;

    let with_appointment = one_id(
        &app,
        "SELECT client_id FROM appointments WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    assert!(ledger_of(&app, with_appointment).await.contains(&by_appointment));
    assert!(
        ledger_of(&app, claimant).await.contains(&by_claim),
        "a claim that day"
    );
    assert!(
        !ledger_of(&app, not_that_day).await.contains(&by_claim),
        "outside the export's dates"
    );
    // Exactly the clients with a claim that day, and nobody through staff or de-identified data.
    let claimants = count_for(
        &app,
        "SELECT COUNT(DISTINCT client_id) FROM claims WHERE organization_id = $1 AND submitted_on = \
         (SELECT MIN(submitted_on) FROM claims WHERE organization_id = $1)",
        organization_id(&app, ACME).await,
    )
    .await;
    let recorded = async |id: Uuid| {
        count_for(
            &app,
            "SELECT client_count FROM pf_disclosures WHERE export_request_id = $1",
            id,
        )
        .await
    };
    assert_eq!(recorded(by_claim).await, claimants);
    assert_eq!(recorded(staff_only).await, 0);
    assert_eq!(
        count_for(
            &app,
            "SELECT COUNT(*) FROM pf_disclosures WHERE export_request_id = $1",
            deidentified
        )
        .await,
        0,
        "a de-identified dataset discloses nobody"
    );
    // An appointments export carries every client with an appointment, and no other.
    let with_appointments = count_for(
        &app,
        "SELECT COUNT(DISTINCT client_id) FROM appointments WHERE organization_id = $1",
        organization_id(&app, ACME).await,
    )
    .await;
    assert_eq!(recorded(by_appointment).await, with_appointments);
    let clients_export = produced(&app, &cookie, identified(&["clients"])).await;
    assert!(
        ledger_of(&app, not_that_day).await.contains(&clients_export),
        "every client"
    );
}

async fn a_killed_attempt_leaves_no_ledger_and_the_winner_exactly_one(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("admin@acme.test").await;
    let id = create_export(&app, &cookie, "selected_records", "csv", &["clients"]).await;
    // Attempt 1 uploads its file and dies before recording anything.
    killed_after_upload(&app, id).await;
    let in_ledger = async || {
        count_for(
            &app,
            "SELECT COUNT(*) FROM pf_disclosures WHERE export_request_id = $1",
            id,
        )
        .await
    };
    assert_eq!(in_ledger().await, 0, "a killed attempt records nothing");
    assert!(matches!(next_attempt(&app).await, Outcome::Completed(_)));
    assert_eq!(in_ledger().await, 1);
    let clients = count_for(
        &app,
        "SELECT COUNT(*) FROM clients WHERE organization_id = $1",
        organization_id(&app, ACME).await,
    )
    .await;
    assert_eq!(
        count_for(
            &app,
            "SELECT client_count FROM pf_disclosures WHERE export_request_id = $1",
            id
        )
        .await,
        clients
    );
    let anyone = one_id(
        &app,
        "SELECT id FROM clients WHERE organization_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .await;
    assert_eq!(ledger_of(&app, anyone).await, vec![id]);
}

async fn deleting_the_history_row_and_expiring_the_file_keep_the_ledger(backend: Backend) {
    let app = TestApp::seeded_with(backend, &[("EXPORT_RETENTION_SECS", "1")], 30).await;
    let cookie = app.login("admin@acme.test").await;
    let deleted = produced(&app, &cookie, identified(&["clients"])).await;
    let expired = produced(&app, &cookie, identified(&["clients"])).await;
    let response = app
        .call(
            "delete_export_request",
            &[("id", &deleted.to_string())],
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(!request_exists(&app, deleted).await);
    eventually(
        Duration::from_secs(20),
        Duration::from_millis(100),
        "the file expiring",
        async || {
            lifecycle::expire_due(&app.state.db)
                .await
                .unwrap()
                .contains(&expired)
                .then_some(())
        },
    )
    .await;
    let client = one_id(
        &app,
        "SELECT id FROM clients WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    assert_eq!(ledger_of(&app, client).await, vec![expired, deleted]);
}

async fn the_ledger_is_forgotten_once_kept_long_enough(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("admin@acme.test").await;
    let kept = produced(&app, &cookie, identified(&["clients"])).await;
    let old = produced(&app, &cookie, identified(&["clients"])).await;
    with_db!(&app.state.db, pool => {
        sqlx::query("UPDATE pf_disclosures SET keep_until = $1 WHERE export_request_id = $2")
            .bind(Utc::now() - TimeDelta::seconds(1))
            .bind(old)
            .execute(pool)
            .await
            .map(drop)
            .unwrap()
    });
    let client = one_id(
        &app,
        "SELECT id FROM clients WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    assert_eq!(
        ledger_of(&app, client).await,
        vec![kept],
        "past its time, no longer shown"
    );
    assert_eq!(ledger::sweep(&app.state.db).await.unwrap(), 1);
    assert_eq!(
        count_for(
            &app,
            "SELECT COUNT(*) FROM pf_disclosure_blocks WHERE export_request_id = $1",
            old
        )
        .await,
        0
    );
    assert_eq!(ledger_of(&app, client).await, vec![kept]);
}

/// The accounting server function's answer for `client`, signed in with `cookie`.
async fn accounting(
    app: &TestApp,
    cookie: &str,
    client: Uuid,
    extra: &[(&str, &str)],
) -> common::TestResponse {
    let client = client.to_string();
    let mut form = vec![("client", client.as_str())];
    form.extend_from_slice(extra);
    app.call("client_disclosures", &form, Some(cookie)).await
}

async fn the_accounting_is_for_its_permission_and_organisation_only_and_is_audited(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    produced(&app, &admin, identified(&["clients"])).await;
    let client = one_id(
        &app,
        "SELECT id FROM clients WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    let record_number: String = {
        let organization = organization_id(&app, ACME).await;
        with_db!(&app.state.db, pool => {
            sqlx::query_scalar("SELECT medical_record_number FROM clients WHERE organization_id = $1 AND id = $2")
                .bind(organization)
                .bind(client)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    };

    let shown = accounting(&app, &admin, client, &[]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let shown = shown.json();
    assert_eq!(shown["total"], 1);
    assert_eq!(shown["items"][0]["recipient"], "internal: quality team");
    assert_eq!(shown["items"][0]["purpose"], "Health care operations");
    assert_eq!(shown["items"][0]["requested_by"], "Acme Admin <admin@acme.test>");
    assert_eq!(shown["client"]["record_number"], record_number);
    assert_eq!(app.audit_count("disclosures_viewed").await, 1);
    let target: String = with_db!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT target_id FROM pf_audit_logs WHERE event = 'disclosures_viewed'")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(target, client.to_string());

    // Finance may export but not read the ledger; another organisation's admin finds nothing.
    let finance = app.login("finance@acme.test").await;
    assert_eq!(
        accounting(&app, &finance, client, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let search = app
        .call(
            "find_disclosure_clients",
            &[("query", &record_number)],
            Some(&finance),
        )
        .await;
    assert_eq!(search.status, StatusCode::FORBIDDEN);
    let globex = app.login("admin@globex.test").await;
    let foreign = accounting(&app, &globex, client, &[]).await;
    assert_eq!(
        (foreign.status, foreign.json()["message"].clone()),
        (StatusCode::NOT_FOUND, json!("Not found."))
    );
    let search = app
        .call(
            "find_disclosure_clients",
            &[("query", &record_number)],
            Some(&globex),
        )
        .await;
    assert_eq!(search.json(), json!([]), "Globex cannot find Acme's client");
    let own = app
        .call(
            "find_disclosure_clients",
            &[("query", &record_number)],
            Some(&admin),
        )
        .await;
    assert_eq!(own.json()[0]["id"], client.to_string());
    assert_eq!(
        app.audit_count("disclosures_viewed").await,
        1,
        "refusals show nothing"
    );
    // Signed out: asked to sign in.
    let signed_out = app
        .call("client_disclosures", &[("client", &client.to_string())], None)
        .await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
}

async fn the_accounting_downloads_as_csv_and_as_a_letter_with_no_internal_ids(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    produced(&app, &admin, identified(&["clients", "appointments"])).await;
    let client = one_id(
        &app,
        "SELECT client_id FROM appointments WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    let uuid = regex_free_uuid_check;
    for (format, expect) in [
        ("csv", "date_completed,recipient,purpose"),
        ("letter", "Accounting of disclosures"),
    ] {
        let answer = app
            .call(
                "disclosure_accounting",
                &[("client", &client.to_string()), ("format", format)],
                Some(&admin),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let url: String = serde_json::from_slice(&answer.body).unwrap();
        let file = fetch(&app, &url, None).await;
        assert_eq!(file.status, StatusCode::OK);
        let text = String::from_utf8(file.body).unwrap();
        assert!(text.starts_with(expect) || text.contains(expect), "{text}");
        assert!(text.contains("internal: quality team"), "{text}");
        assert!(text.contains("Selected records: Clients, Appointments"), "{text}");
        assert!(!uuid(&text), "no internal ids: {text}");
    }
    assert_eq!(app.audit_count("disclosure_accounting_downloaded").await, 2);
}

/// Whether `text` holds anything shaped like a UUID.
fn regex_free_uuid_check(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .any(|word| Uuid::try_parse(word).is_ok())
}

async fn hostile_input_is_refused_with_a_sentence(backend: Backend) {
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    let client = one_id(
        &app,
        "SELECT id FROM clients WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    let long = "x".repeat(101);
    for (endpoint, form) in [
        ("find_disclosure_clients", vec![("query", long.as_str())]),
        ("find_disclosure_clients", vec![("query", "   ")]),
        (
            "client_disclosures",
            vec![("from", "2026-13-01"), ("to", "2026-12-01")],
        ),
        (
            "client_disclosures",
            vec![("from", "2026-12-01"), ("to", "2026-11-01")],
        ),
        ("client_disclosures", vec![("from", "2026-12-01")]),
        ("disclosure_accounting", vec![("format", "pdf")]),
    ] {
        let client = client.to_string();
        let mut form = form.clone();
        if endpoint != "find_disclosure_clients" {
            form.push(("client", client.as_str()));
        }
        let answer = app.call(endpoint, &form, Some(&admin)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{endpoint} {form:?}: {}",
            answer.text()
        );
        assert!(
            answer.json()["message"]
                .as_str()
                .is_some_and(|m| m.ends_with('.')),
            "{}",
            answer.text()
        );
    }
    // Wildcards are searched for as themselves; an unknown id is not found.
    let wild = app
        .call("find_disclosure_clients", &[("query", "%")], Some(&admin))
        .await;
    assert_eq!(wild.json(), json!([]));
    let unknown = accounting(&app, &admin, Uuid::new_v4(), &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let garbage = app
        .call("client_disclosures", &[("client", "not-an-id")], Some(&admin))
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

async fn the_page_finds_a_client_and_shows_their_accounting_without_javascript(backend: Backend) {
    use axum::body::Body;
    use http::{Request, header};
    let app = TestApp::seeded(backend).await;
    let admin = app.login("admin@acme.test").await;
    produced(&app, &admin, identified(&["clients"])).await;
    let (client, name): (Uuid, String) = {
        let organization = organization_id(&app, ACME).await;
        with_db!(&app.state.db, pool => {
            sqlx::query_as("SELECT id, last_name FROM clients WHERE organization_id = $1 ORDER BY id LIMIT 1")
                .bind(organization)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    };
    let page = async |path: String, cookie: &str| {
        let request = Request::get(path)
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, format!("exports_session={cookie}"));
        let response = app.request(request.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status, StatusCode::OK);
        response.text()
    };
    let found = page(format!("/settings/exports/disclosures?q={name}"), &admin).await;
    assert!(
        found.contains(&format!("/settings/exports/disclosures?client={client}")),
        "{found}"
    );
    let shown = page(format!("/settings/exports/disclosures?client={client}"), &admin).await;
    assert!(shown.contains("internal: quality team"), "{shown}");
    assert!(shown.contains("action=\"/api/disclosure_accounting\""), "{shown}");
    let finance = app.login("finance@acme.test").await;
    let denied = page(format!("/settings/exports/disclosures?client={client}"), &finance).await;
    assert!(
        denied.contains("Access denied") && !denied.contains("quality team"),
        "{denied}"
    );
}

/// An export began before another completion numbered its clients: its completion finds their
/// numbers and reuses them (one number per client, both exports found).
async fn a_client_numbered_while_an_export_ran_keeps_their_number(backend: Backend) {
    use data_exports::{
        disclosures::ledger::{Carried, Disclosed},
        exports::{catalog, model::NewExport},
    };
    let app = TestApp::seeded(backend).await;
    let cookie = app.login("admin@acme.test").await;
    let first = produced(&app, &cookie, identified(&["clients"])).await;
    let client = one_id(
        &app,
        "SELECT id FROM clients WHERE organization_id = $1 ORDER BY id LIMIT 1",
    )
    .await;
    // Loaded before the first completion: the client was not numbered yet.
    let mut carried = Carried::new([]);
    carried.note(client);
    let spec = catalog::spec(&NewExport {
        export_type: "selected_records".into(),
        export_format: "csv".into(),
        entity_types: vec!["clients".into()],
        purpose: "treatment".into(),
        recipient: "internal: care team".into(),
        ..NewExport::default()
    })
    .unwrap();
    let second = Uuid::new_v4();
    let export = Disclosed {
        export_request_id: second,
        organization_id: organization_id(&app, ACME).await,
        spec: &spec,
        time_zone: "UTC",
        requested_by: None,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    let at = data_exports::db::now();
    ledger::record_in(&mut tx, export, &carried, at, at + TimeDelta::days(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        count_for(
            &app,
            "SELECT COUNT(*) FROM pf_disclosure_subjects WHERE client_id = $1",
            client
        )
        .await,
        1
    );
    assert_eq!(ledger_of(&app, client).await, vec![second, first]);
}
