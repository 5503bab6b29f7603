//! Reads one organisation's rows entity by entity, in id order and bounded batches, all from one
//! consistent snapshot of the database (Postgres: a read-only REPEATABLE READ transaction;
//! SQLite: one read transaction over the write-ahead log).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Database, Decode, Row, Type};
use uuid::Uuid;

use crate::{
    db::{Db, Tx, with_tx},
    engine::value::Value,
    records::{Column, EntityType, Kind},
};

/// An open snapshot of the database.
pub struct Snapshot {
    tx: Tx,
}

/// Where the next batch of an entity starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    Start,
    After(Key),
    Done,
}

/// The last id read: a UUID, or the audit log's integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Uuid(Uuid),
    Int(i64),
}

/// Reads one entity's rows of one organisation, batch after batch.
pub struct EntityReader {
    organization_id: Uuid,
    columns: Vec<Column>,
    first: String,
    next: String,
    cursor: Cursor,
}

impl EntityReader {
    /// Reads `columns` (in that order; the first must be the entity's `id`) of `entity`,
    /// `batch_rows` at a time.
    pub fn new(organization_id: Uuid, entity: EntityType, columns: Vec<Column>, batch_rows: u32) -> Self {
        debug_assert_eq!(columns.first().map(|c| c.name), Some("id"));
        let select = columns
            .iter()
            .map(|column| match column.kind {
                // One Rust type per kind whatever the column's width or JSON flavour.
                Kind::Integer | Kind::Money => format!("CAST({0} AS BIGINT) AS {0}", column.name),
                Kind::Json => format!("CAST({0} AS TEXT) AS {0}", column.name),
                _ => column.name.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let table = entity.table();
        let query = |after: &str| {
            format!(
                "SELECT {select} FROM {table} WHERE organization_id = $1{after} ORDER BY id LIMIT {batch_rows}"
            )
        };
        EntityReader {
            organization_id,
            columns,
            first: query(""),
            next: query(" AND id > $2"),
            cursor: Cursor::Start,
        }
    }

    /// The columns each row holds, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
}

impl Snapshot {
    /// Opens a snapshot; everything read through it sees the database as of its first read.
    pub async fn open(db: &Db) -> Result<Snapshot, sqlx::Error> {
        let mut tx = db.begin().await?;
        if let Tx::Postgres(tx) = &mut tx {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut **tx)
                .await?;
        }
        Ok(Snapshot { tx })
    }

    /// How many rows of `entity` the organisation has.
    pub async fn count(&mut self, organization_id: Uuid, entity: EntityType) -> Result<u64, sqlx::Error> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE organization_id = $1",
            entity.table()
        );
        let count: i64 = with_tx!(&mut self.tx, conn => {
            sqlx::query_scalar(&sql).bind(organization_id).fetch_one(conn).await
        })?;
        Ok(count.max(0) as u64)
    }

    /// The reader's next batch, or `None` once every row has been read.
    pub async fn next_batch(
        &mut self,
        reader: &mut EntityReader,
    ) -> Result<Option<Vec<Vec<Value>>>, sqlx::Error> {
        let (rows, last) = match reader.cursor {
            Cursor::Done => return Ok(None),
            cursor => with_tx!(&mut self.tx, conn => {
                let query = match cursor {
                    Cursor::After(_) => sqlx::query(&reader.next),
                    _ => sqlx::query(&reader.first),
                }
                .bind(reader.organization_id);
                let query = match cursor {
                    Cursor::After(Key::Uuid(id)) => query.bind(id),
                    Cursor::After(Key::Int(id)) => query.bind(id),
                    _ => query,
                };
                let raw = query.fetch_all(conn).await?;
                let last = match raw.last() {
                    Some(row) => Some(key_of(row, reader.columns[0].kind)?),
                    None => None,
                };
                let rows = raw
                    .iter()
                    .map(|row| decode(row, &reader.columns))
                    .collect::<Result<Vec<_>, _>>()?;
                (rows, last)
            }),
        };
        reader.cursor = match last {
            Some(key) => Cursor::After(key),
            None => Cursor::Done,
        };
        Ok((!rows.is_empty()).then_some(rows))
    }

    /// Ends the snapshot (it only ever read).
    pub async fn close(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

fn key_of<R>(row: &R, kind: Kind) -> Result<Key, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(match kind {
        Kind::Integer => Key::Int(row.try_get(0)?),
        _ => Key::Uuid(row.try_get(0)?),
    })
}

/// One row as values, typed by each column's kind.
fn decode<R>(row: &R, columns: &[Column]) -> Result<Vec<Value>, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    R::Database: Database,
{
    fn get<R, T>(row: &R, index: usize, wrap: impl FnOnce(T) -> Value) -> Result<Value, sqlx::Error>
    where
        R: Row,
        usize: ColumnIndex<R>,
        for<'r> T: Decode<'r, R::Database> + Type<R::Database>,
    {
        Ok(row.try_get::<Option<T>, _>(index)?.map_or(Value::Null, wrap))
    }
    columns
        .iter()
        .enumerate()
        .map(|(index, column)| match column.kind {
            Kind::Id => get(row, index, |id: Uuid| Value::Text(id.to_string())),
            Kind::Text => get(row, index, Value::Text),
            Kind::Json => get(row, index, Value::Json),
            Kind::Integer | Kind::Money => get(row, index, Value::Int),
            Kind::Bool => get(row, index, Value::Bool),
            Kind::Date => get(row, index, Value::Date),
            Kind::Timestamp => get(row, index, Value::Timestamp),
        })
        .collect()
}
