//! Reads one organisation's rows entity by entity, in bounded batches, all from one consistent
//! snapshot of the database (Postgres: a read-only REPEATABLE READ transaction; SQLite: one read
//! transaction over the write-ahead log). An identified export over all time reads in key order
//! (the id, or the audit log's per-organisation number); one over a date range reads only that
//! range, in (date, key) order along the entity's date index. A de-identified export reads in a fresh random order drawn by the database for that
//! file alone ([`Order::Shuffled`]), so a row's position links it to no record id and to no other
//! export. The filter is the one the row-count preview counts with.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type, query::Query};
use uuid::Uuid;

use crate::{
    db::{Db, Tx, with_tx},
    engine::value::Value,
    exports::{catalog::ValidExport, scope::DateRange},
    records::{Column, EntityType, Kind},
};

/// Rows of one entity type whose date column falls in a date range of one time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    column: &'static str,
    bounds: Bounds,
}

/// A half-open interval `[start, end)` of the date column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// A date column: the calendar days themselves.
    Days(NaiveDate, NaiveDate),
    /// An instant column: from the first day's start to the day after the last's, in the zone.
    Instants(DateTime<Utc>, DateTime<Utc>),
}

impl Filter {
    /// The rows of `entity` in `range`, read in `zone`; `None` for an entity type without a date
    /// column, which is exported whole.
    pub fn new(entity: EntityType, range: DateRange, zone: Tz) -> Option<Filter> {
        let column = entity.date_column()?;
        let bounds = match column.kind {
            Kind::Timestamp => Bounds::Instants(day_start(zone, range.from), day_start(zone, range.until())),
            _ => Bounds::Days(range.from, range.until()),
        };
        Some(Filter {
            column: column.name,
            bounds,
        })
    }

    /// Which of `entity`'s rows `spec` exports: `None` for all of them.
    pub fn of(spec: &ValidExport, entity: EntityType, zone: Tz) -> Option<Filter> {
        spec.date_range.and_then(|range| Filter::new(entity, range, zone))
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    fn condition(&self) -> String {
        format!(" AND t.{0} >= $2 AND t.{0} < $3", self.column)
    }
}

/// The first instant of `date` in `zone`: its midnight, or, where a daylight-saving gap swallows
/// midnight, the end of the gap.
pub fn day_start(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut local = date.and_time(NaiveTime::MIN);
    loop {
        if let Some(start) = zone.from_local_datetime(&local).earliest() {
            return start.with_timezone(&Utc);
        }
        local += TimeDelta::minutes(15);
    }
}

/// Binds `filter`'s bounds as `$2` and `$3`.
fn bind_bounds<'q, DB>(
    query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    filter: Option<&Filter>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    NaiveDate: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    match filter.map(|filter| filter.bounds) {
        None => query,
        Some(Bounds::Days(start, end)) => query.bind(start).bind(end),
        Some(Bounds::Instants(start, end)) => query.bind(start).bind(end),
    }
}

/// An open snapshot of the database.
pub struct Snapshot {
    tx: Tx,
}

/// The order an entity's rows are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As stored: by id, or by date and id when filtered (identified exports, whose readers
    /// expect records as the organisation keeps them).
    Stored,
    /// A fresh random order for this file alone, drawn by the database while it sorts (spilling
    /// to disk, not to memory): Postgres reads a cursor over `ORDER BY random()`; SQLite numbers
    /// the rows' rowids in random order into a temporary table (its own file, not the database's
    /// write lock) and reads them back along that numbering. For de-identified exports: row *i*
    /// of one file is not row *i* of any other.
    Shuffled,
}

/// Where the next batch of an entity starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    Start,
    /// After this row: its date (when filtered) and its id.
    After(Option<At>, Key),
    /// Shuffled, after this position of the random numbering (SQLite; a Postgres cursor keeps
    /// its own place).
    Shuffled(i64),
    Done,
}

/// The Postgres cursor a shuffled entity is read through (one at a time per snapshot).
const SHUFFLED_CURSOR: &str = "export_shuffled_rows";
/// The SQLite table of a shuffled entity's rowids in their random order.
const SHUFFLED_TABLE: &str = "temp.export_shuffled_rows";

/// The date column's value of the last row read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
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
    filter: Option<Filter>,
    order: Order,
    /// The exported columns, as the queries select them from the table aliased `t`.
    select: String,
    table: &'static str,
    batch_rows: u32,
    /// Stored order: the first batch's query and the next ones'. Shuffled: the batch query
    /// (SQLite; a Postgres cursor has its own).
    first: String,
    next: String,
    cursor: Cursor,
}

impl EntityReader {
    /// Reads `columns` (in that order; the first must be the entity's `id`) of `entity`'s rows
    /// that `filter` lets through, in `order`, `batch_rows` at a time.
    pub fn new(
        organization_id: Uuid,
        entity: EntityType,
        columns: Vec<Column>,
        filter: Option<Filter>,
        order: Order,
        batch_rows: u32,
    ) -> Self {
        debug_assert_eq!(columns.first().map(|c| c.name), Some("id"));
        let key = entity.key_column();
        let select = columns
            .iter()
            .map(|column| match column.kind {
                _ if column.name == "id" && key != "id" => format!("CAST(t.{key} AS BIGINT) AS id"),
                // One Rust type per kind whatever the column's width or JSON flavour.
                Kind::Integer | Kind::Money => format!("CAST(t.{0} AS BIGINT) AS {0}", column.name),
                Kind::Json => format!("CAST(t.{0} AS TEXT) AS {0}", column.name),
                _ => format!("t.{}", column.name),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let table = entity.table();
        let (first, next) = match (order, &filter) {
            (Order::Shuffled, _) => {
                let page = format!(
                    "SELECT {select}, o.position FROM {SHUFFLED_TABLE} o JOIN {table} t ON t.rowid = o.row_id \
                     WHERE o.position > $1 ORDER BY o.position LIMIT {batch_rows}"
                );
                (page.clone(), page)
            }
            (Order::Stored, None) => {
                let query = |after: &str| {
                    format!(
                        "SELECT {select} FROM {table} t WHERE organization_id = $1{after} \
                         ORDER BY t.{key} LIMIT {batch_rows}"
                    )
                };
                (query(""), query(&format!(" AND t.{key} > $2")))
            }
            // The date goes last, past the exported columns, for the cursor.
            (Order::Stored, Some(filter)) => {
                let (date, range) = (filter.column, filter.condition());
                let query = |after: &str| {
                    format!(
                        "SELECT {select}, t.{date} FROM {table} t WHERE organization_id = $1{range}{after} \
                         ORDER BY t.{date}, t.{key} LIMIT {batch_rows}"
                    )
                };
                (query(""), query(&format!(" AND (t.{date}, t.{key}) > ($4, $5)")))
            }
        };
        EntityReader {
            organization_id,
            columns,
            filter,
            order,
            select,
            table,
            batch_rows,
            first,
            next,
            cursor: Cursor::Start,
        }
    }

    /// The rows the reader exports, in no particular order: `SELECT <what> FROM <table> t
    /// WHERE …` with the organisation as `$1` and the filter's bounds as `$2` and `$3`.
    fn selection(&self, what: &str) -> String {
        format!(
            "SELECT {what} FROM {} t WHERE organization_id = $1{}",
            self.table,
            self.filter.as_ref().map(Filter::condition).unwrap_or_default()
        )
    }

    /// The columns each row holds, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
}

impl Snapshot {
    /// Opens a snapshot; everything read through it sees the database as of its first read.
    pub async fn open(db: &Db) -> Result<Snapshot, sqlx::Error> {
        Ok(Snapshot {
            tx: db.begin_snapshot().await?,
        })
    }

    /// How many rows of `entity` the organisation has that `filter` lets through.
    pub async fn count(
        &mut self,
        organization_id: Uuid,
        entity: EntityType,
        filter: Option<&Filter>,
    ) -> Result<u64, sqlx::Error> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} t WHERE organization_id = $1{}",
            entity.table(),
            filter.map(Filter::condition).unwrap_or_default()
        );
        let count: i64 = with_tx!(&mut self.tx, conn => {
            let query = bind_bounds(sqlx::query(&sql).bind(organization_id), filter);
            query.fetch_one(conn).await?.try_get(0)?
        });
        Ok(count.max(0) as u64)
    }

    /// The reader's next batch, or `None` once every row has been read.
    pub async fn next_batch(
        &mut self,
        reader: &mut EntityReader,
    ) -> Result<Option<Vec<Vec<Value>>>, sqlx::Error> {
        match reader.order {
            Order::Stored => self.next_stored(reader).await,
            Order::Shuffled => self.next_shuffled(reader).await,
        }
    }

    async fn next_stored(
        &mut self,
        reader: &mut EntityReader,
    ) -> Result<Option<Vec<Vec<Value>>>, sqlx::Error> {
        let (rows, last) = match reader.cursor {
            Cursor::Done => return Ok(None),
            cursor => with_tx!(&mut self.tx, conn => {
                let query = match cursor {
                    Cursor::After(..) => sqlx::query(&reader.next),
                    _ => sqlx::query(&reader.first),
                }
                .bind(reader.organization_id);
                let query = bind_bounds(query, reader.filter.as_ref());
                let query = match cursor {
                    Cursor::After(Some(At::Day(at)), _) => query.bind(at),
                    Cursor::After(Some(At::Instant(at)), _) => query.bind(at),
                    _ => query,
                };
                let query = match cursor {
                    Cursor::After(_, Key::Uuid(id)) => query.bind(id),
                    Cursor::After(_, Key::Int(id)) => query.bind(id),
                    _ => query,
                };
                let raw = query.fetch_all(conn).await?;
                let last = match raw.last() {
                    Some(row) => Some(position_of(row, reader)?),
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
            Some((at, key)) => Cursor::After(at, key),
            None => Cursor::Done,
        };
        Ok((!rows.is_empty()).then_some(rows))
    }

    async fn next_shuffled(
        &mut self,
        reader: &mut EntityReader,
    ) -> Result<Option<Vec<Vec<Value>>>, sqlx::Error> {
        if reader.cursor == Cursor::Start {
            self.shuffle(reader).await?;
            reader.cursor = Cursor::Shuffled(0);
        }
        let Cursor::Shuffled(after) = reader.cursor else {
            return Ok(None);
        };
        let (rows, last) = match &mut self.tx {
            Tx::Sqlite(tx) => {
                let raw = sqlx::query(&reader.first)
                    .bind(after)
                    .fetch_all(&mut **tx)
                    .await?;
                let position = reader.columns.len();
                let last = raw
                    .last()
                    .map(|row| row.try_get::<i64, _>(position))
                    .transpose()?;
                let rows = raw
                    .iter()
                    .map(|row| decode(row, &reader.columns))
                    .collect::<Result<Vec<_>, _>>()?;
                (rows, last)
            }
            Tx::Postgres(tx) => {
                let fetch = format!("FETCH FORWARD {} FROM {SHUFFLED_CURSOR}", reader.batch_rows);
                // Not kept prepared: the same text fetches each entity's differently shaped rows.
                let raw = sqlx::query(&fetch).persistent(false).fetch_all(&mut **tx).await?;
                let rows = raw
                    .iter()
                    .map(|row| decode(row, &reader.columns))
                    .collect::<Result<Vec<_>, _>>()?;
                let last = (!rows.is_empty()).then_some(after + rows.len() as i64);
                (rows, last)
            }
        };
        match last {
            Some(last) => reader.cursor = Cursor::Shuffled(last),
            None => {
                reader.cursor = Cursor::Done;
                let done = match &self.tx {
                    Tx::Sqlite(_) => format!("DROP TABLE {SHUFFLED_TABLE}"),
                    Tx::Postgres(_) => format!("CLOSE {SHUFFLED_CURSOR}"),
                };
                with_tx!(&mut self.tx, conn => {
                    sqlx::query(&done).execute(conn).await?;
                });
            }
        }
        Ok((!rows.is_empty()).then_some(rows))
    }

    /// Draws the reader's random order, inside the snapshot.
    async fn shuffle(&mut self, reader: &EntityReader) -> Result<(), sqlx::Error> {
        match &mut self.tx {
            Tx::Sqlite(tx) => {
                for ddl in [
                    format!("DROP TABLE IF EXISTS {SHUFFLED_TABLE}"),
                    format!(
                        "CREATE TABLE {SHUFFLED_TABLE} (position INTEGER PRIMARY KEY, row_id INTEGER NOT NULL)"
                    ),
                ] {
                    sqlx::query(&ddl).execute(&mut **tx).await?;
                }
                // Positions are handed out in insertion order, which is the sort's.
                let fill = format!(
                    "INSERT INTO {SHUFFLED_TABLE} (row_id) {} ORDER BY random()",
                    reader.selection("t.rowid")
                );
                let query = sqlx::query(&fill).bind(reader.organization_id);
                bind_bounds(query, reader.filter.as_ref())
                    .execute(&mut **tx)
                    .await?;
            }
            Tx::Postgres(tx) => {
                let declare = format!(
                    "DECLARE {SHUFFLED_CURSOR} NO SCROLL CURSOR FOR {} ORDER BY random()",
                    reader.selection(&reader.select)
                );
                let query = sqlx::query(&declare).bind(reader.organization_id);
                bind_bounds(query, reader.filter.as_ref())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Ends the snapshot (it only ever read).
    pub async fn close(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// Where `row` stands in the reader's order: its date, when filtered, and its id.
fn position_of<R>(row: &R, reader: &EntityReader) -> Result<(Option<At>, Key), sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let key = match reader.columns[0].kind {
        Kind::Integer => Key::Int(row.try_get(0)?),
        _ => Key::Uuid(row.try_get(0)?),
    };
    let date = reader.columns.len();
    let at = match reader.filter.map(|filter| filter.bounds) {
        None => None,
        Some(Bounds::Days(..)) => Some(At::Day(row.try_get(date)?)),
        Some(Bounds::Instants(..)) => Some(At::Instant(row.try_get(date)?)),
    };
    Ok((at, key))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clocks_resume() {
        // Santiago springs forward at midnight: that day begins at 01:00.
        let zone: Tz = "America/Santiago".parse().unwrap();
        let skipped = (0..366)
            .map(|n| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + TimeDelta::days(n))
            .find(|day| {
                zone.from_local_datetime(&day.and_time(NaiveTime::MIN))
                    .earliest()
                    .is_none()
            })
            .expect("Santiago skips a midnight in 2026");
        let start = day_start(zone, skipped).with_timezone(&zone);
        assert_eq!(start.date_naive(), skipped);
        assert_eq!(start.time(), NaiveTime::from_hms_opt(1, 0, 0).unwrap());
        let just_before = (start - TimeDelta::seconds(1)).date_naive();
        assert_eq!(just_before, skipped.pred_opt().unwrap());
    }

    #[test]
    fn a_range_of_instants_runs_from_the_first_local_midnight_to_the_one_after_the_last() {
        let zone: Tz = "Europe/London".parse().unwrap();
        let range = DateRange {
            from: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
        };
        // The spring-forward day is 23 hours long.
        let Bounds::Instants(start, end) = Filter::new(EntityType::Appointments, range, zone)
            .unwrap()
            .bounds()
        else {
            panic!("appointments are filtered by an instant");
        };
        assert_eq!(start.to_rfc3339(), "2026-03-29T00:00:00+00:00");
        assert_eq!(end - start, TimeDelta::hours(23));
        assert!(matches!(
            Filter::new(EntityType::Claims, range, zone).unwrap().bounds(),
            Bounds::Days(..)
        ));
        assert_eq!(Filter::new(EntityType::Staff, range, zone), None);
    }
}
