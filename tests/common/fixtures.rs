//! The fixture clinic's awkward records (`tests/fixtures/records.json`), and another organisation's.

use chrono::{DateTime, NaiveDate, Utc};
use data_exports::{
    auth::accounts,
    engine::value::Value,
    records::{Column, EntityType, Kind},
    seed::DEMO_PASSWORD,
    with_db,
};
use serde::Deserialize;
use uuid::Uuid;

use super::TestApp;

/// One row: every column of its entity, in the registry's order (`id` first), with its value.
pub type Row = Vec<(&'static str, Value)>;

/// Rows by entity, in the order they can be inserted (referenced rows first).
pub type Tables = Vec<(EntityType, Vec<Row>)>;

/// The only text in the other organisation's rows.
pub const OTHER_MARKER: &str = "OTHER-ORG-SECRET";

const RECORDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/records.json");

/// One entity's rows as `records.json` writes them: column name → JSON value.
#[derive(Deserialize)]
struct Table {
    entity: EntityType,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The fixture clinic's rows, read from `records.json`.
pub fn fixture() -> Tables {
    let text = std::fs::read_to_string(RECORDS).unwrap_or_else(|e| panic!("{RECORDS}: {e}"));
    let tables: Vec<Table> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{RECORDS}: {e}"));
    tables
        .into_iter()
        .map(|table| {
            let rows = table
                .rows
                .into_iter()
                .map(|row| typed_row(table.entity, row))
                .collect();
            (table.entity, rows)
        })
        .collect()
}

/// A row of `records.json` with each value typed by its column; every column must be there.
fn typed_row(entity: EntityType, mut row: serde_json::Map<String, serde_json::Value>) -> Row {
    let typed = entity
        .columns()
        .iter()
        .map(|column| {
            let value = row
                .remove(column.name)
                .unwrap_or_else(|| panic!("{RECORDS}: a {entity:?} row has no {}", column.name));
            (column.name, typed_value(entity, column, value))
        })
        .collect();
    assert!(
        row.is_empty(),
        "{RECORDS}: {entity:?} has no column {:?}",
        row.keys().collect::<Vec<_>>()
    );
    typed
}

/// A JSON value as the cell the database returns for `column`: ids as their text, dates and
/// instants parsed, integers and money cents as integers.
fn typed_value(entity: EntityType, column: &Column, value: serde_json::Value) -> Value {
    use serde_json::Value as Json;
    let wrong = |value: &Json| -> ! {
        panic!(
            "{RECORDS}: {entity:?}.{} is {:?}, not {value}",
            column.name, column.kind
        )
    };
    match (column.kind, value) {
        (_, Json::Null) => Value::Null,
        (Kind::Id, Json::String(text)) => {
            Uuid::parse_str(&text).unwrap_or_else(|_| wrong(&Json::String(text.clone())));
            Value::Text(text)
        }
        (Kind::Text, Json::String(text)) => Value::Text(text),
        (Kind::Date, Json::String(text)) => Value::Date(
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .unwrap_or_else(|_| wrong(&Json::String(text.clone()))),
        ),
        (Kind::Timestamp, Json::String(text)) => Value::Timestamp(
            DateTime::parse_from_rfc3339(&text)
                .unwrap_or_else(|_| wrong(&Json::String(text.clone())))
                .with_timezone(&Utc),
        ),
        (Kind::Integer | Kind::Money, Json::Number(number)) => Value::Int(
            number
                .as_i64()
                .unwrap_or_else(|| wrong(&Json::Number(number.clone()))),
        ),
        (Kind::Bool, Json::Bool(flag)) => Value::Bool(flag),
        (Kind::Json, json) => Value::Json(json.to_string()),
        (_, other) => wrong(&other),
    }
}

/// The id of the fixture's `index`th row (from 0) of `entity`.
pub fn fixture_id(entity: EntityType, index: usize) -> Uuid {
    let (_, rows) = fixture().into_iter().find(|(e, _)| *e == entity).unwrap();
    match &rows[index][0] {
        ("id", Value::Text(id)) => Uuid::parse_str(id).unwrap(),
        other => panic!("{other:?}"),
    }
}

/// The other organisation: same shapes, every text a marker, ids of its own.
pub fn other_fixture() -> Tables {
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
                                Value::Text(_) => Value::Text(OTHER_MARKER.into()),
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

/// Inserts `rows` for the organisation, binding each value with its natural type. (No function
/// of the app writes records: they are the organisation's own data, which exports only read.)
pub async fn insert(app: &TestApp, organization_id: Uuid, entity: EntityType, rows: &[Row]) {
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

/// The app with the fixture clinic and the other organisation, and an admin of each; returns
/// the clinic's id and its admin's session.
pub async fn setup_fixture(app: &TestApp) -> (Uuid, String) {
    let db = &app.state.db;
    let ours = accounts::ensure_organization(db, "Fixture Clinic").await.unwrap();
    let theirs = accounts::ensure_organization(db, "Other Org").await.unwrap();
    for (organization, fixture) in [(ours, fixture()), (theirs, other_fixture())] {
        for (entity, rows) in &fixture {
            insert(app, organization, *entity, rows).await;
        }
    }
    for (email, name, organization) in [
        ("admin@fixture.test", "Fixture Admin", ours),
        ("admin@other.test", "Other Admin", theirs),
    ] {
        let admin = accounts::upsert_user(db, email, name, DEMO_PASSWORD)
            .await
            .unwrap();
        accounts::grant(db, admin, organization, Some("org_admin"))
            .await
            .unwrap();
    }
    (ours, app.login("admin@fixture.test").await)
}
