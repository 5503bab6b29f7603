//! Reads one organisation's rows entity by entity, in bounded batches, all from one consistent
//! snapshot of the database (Postgres: a read-only REPEATABLE READ transaction; SQLite: one read
//! transaction over the write-ahead log). An identified export over all time reads in key order
//! (the id, or the audit log's per-organisation number); one over a date range reads only that
//! range, in (date, key) order along the entity's date index. A de-identified export reads in a
//! fresh random order drawn by the database for that file alone ([`Order::Shuffled`]), so a row's
//! position links it to no record id and to no other export. The filter is the one the row-count
//! preview counts with. Each entity is one query streamed through: Postgres sends rows while the
//! engine encodes the ones before; SQLite is stepped on a thread of its own ([`sqlite`]).

mod sqlite;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use futures::{
    StreamExt, TryStreamExt,
    stream::{self, BoxStream},
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Postgres, Row, Transaction, Type, query::Query};
use uuid::Uuid;

use crate::{
    db::{Db, Tx},
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
            Kind::Timestamp => {
                let (start, end) = range.instants(zone);
                Bounds::Instants(start, end)
            }
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
pub enum Snapshot {
    Sqlite(sqlite::Reader),
    Postgres(Transaction<'static, Postgres>),
}

/// The order an entity's rows are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As stored: by id, or by date and id when filtered (identified exports, whose readers
    /// expect records as the organisation keeps them).
    Stored,
    /// A fresh random order for this file alone, drawn by the database as it sorts
    /// (`ORDER BY random()`, spilling to disk, not to memory). For de-identified exports: row
    /// *i* of one file is not row *i* of any other.
    Shuffled,
}

/// Reads one entity's rows of one organisation, batch after batch.
pub struct EntityReader {
    organization_id: Uuid,
    columns: Vec<Column>,
    filter: Option<Filter>,
    batch_rows: u32,
    /// Every row, in order: the organisation is `$1`, the filter's bounds `$2` and `$3`.
    sql: String,
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
        let order = match (order, &filter) {
            (Order::Shuffled, _) => "random()".to_owned(),
            (Order::Stored, None) => format!("t.{key}"),
            (Order::Stored, Some(filter)) => format!("t.{}, t.{key}", filter.column),
        };
        let sql = format!(
            "SELECT {select} FROM {} t WHERE organization_id = $1{} ORDER BY {order}",
            entity.table(),
            filter.as_ref().map(Filter::condition).unwrap_or_default()
        );
        EntityReader {
            organization_id,
            columns,
            filter,
            batch_rows,
            sql,
        }
    }

    /// The columns each row holds, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
}

/// `sql` with SQLite's values for the organisation (`$1`) and `filter`'s bounds (`$2`, `$3`).
fn sqlite_query(sql: String, organization_id: Uuid, filter: Option<&Filter>) -> sqlite::Query {
    let mut params = vec![sqlite::uuid(organization_id)];
    match filter.map(|filter| filter.bounds) {
        None => {}
        Some(Bounds::Days(start, end)) => params.extend([sqlite::day(start), sqlite::day(end)]),
        Some(Bounds::Instants(start, end)) => params.extend([sqlite::instant(start), sqlite::instant(end)]),
    }
    sqlite::Query { sql, params }
}

impl Snapshot {
    /// Opens a snapshot; everything read through it sees the database as of its first read.
    pub async fn open(db: &Db) -> Result<Snapshot, sqlx::Error> {
        match db {
            Db::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_owned();
                Ok(Snapshot::Sqlite(sqlite::Reader::open(path).await?))
            }
            Db::Postgres(_) => match db.begin_snapshot().await? {
                Tx::Postgres(tx) => Ok(Snapshot::Postgres(tx)),
                Tx::Sqlite(_) => unreachable!("a Postgres pool begins Postgres transactions"),
            },
        }
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
        let count: i64 = match self {
            Snapshot::Sqlite(reader) => reader.count(sqlite_query(sql, organization_id, filter)).await?,
            Snapshot::Postgres(tx) => {
                let query = bind_bounds(sqlx::query(&sql).bind(organization_id), filter);
                query.fetch_one(&mut **tx).await?.try_get(0)?
            }
        };
        Ok(count.max(0) as u64)
    }

    /// The reader's rows, batch after batch, each at most `batch_rows` long: one query streamed
    /// through, so the database produces rows while the engine encodes the ones before.
    pub fn batches<'a>(
        &'a mut self,
        reader: &'a EntityReader,
    ) -> BoxStream<'a, Result<Vec<Vec<Value>>, sqlx::Error>> {
        match self {
            Snapshot::Sqlite(sqlite) => {
                let query = sqlite_query(reader.sql.clone(), reader.organization_id, reader.filter.as_ref());
                match sqlite.read(query, reader.columns.clone(), reader.batch_rows as usize) {
                    Ok(batches) => stream::unfold(batches, |mut batches| async move {
                        batches.recv().await.map(|batch| (batch, batches))
                    })
                    .boxed(),
                    Err(error) => stream::once(async { Err(error) }).boxed(),
                }
            }
            Snapshot::Postgres(tx) => {
                let query = sqlx::query(&reader.sql).bind(reader.organization_id);
                bind_bounds(query, reader.filter.as_ref())
                    .fetch(&mut **tx)
                    .try_chunks(reader.batch_rows as usize)
                    .map(|chunk| {
                        chunk
                            .map_err(|error| error.1)?
                            .iter()
                            .map(|row| decode(row, &reader.columns))
                            .collect()
                    })
                    .boxed()
            }
        }
    }

    /// The organisation's clients the ledger of disclosures has numbered, with their numbers.
    pub async fn subjects(&mut self, organization_id: Uuid) -> Result<Vec<(Uuid, u32)>, sqlx::Error> {
        let sql = crate::disclosures::ledger::SUBJECTS_SQL;
        let pairs: Vec<(Uuid, i64)> = match self {
            Snapshot::Sqlite(sqlite) => {
                let columns = vec![
                    Column::internal("client_id", Kind::Id),
                    Column::internal("subject_no", Kind::Integer),
                ];
                let query = sqlite_query(sql.to_owned(), organization_id, None);
                let mut batches = sqlite.read(query, columns, 10_000)?;
                let mut pairs = Vec::new();
                while let Some(batch) = batches.recv().await {
                    for row in batch? {
                        if let [Value::Text(id), Value::Int(number)] = row.as_slice() {
                            pairs.push((
                                Uuid::try_parse(id).map_err(|e| sqlx::Error::Decode(e.into()))?,
                                *number,
                            ));
                        }
                    }
                }
                pairs
            }
            Snapshot::Postgres(tx) => {
                let rows: Vec<(Uuid, i32)> = sqlx::query_as(sql)
                    .bind(organization_id)
                    .fetch_all(&mut **tx)
                    .await?;
                rows.into_iter()
                    .map(|(id, number)| (id, i64::from(number)))
                    .collect()
            }
        };
        Ok(pairs
            .into_iter()
            .filter_map(|(id, number)| Some((id, u32::try_from(number).ok()?)))
            .collect())
    }

    /// Ends the snapshot (it only ever read).
    pub async fn close(self) -> Result<(), sqlx::Error> {
        match self {
            // The reader's thread rolls back once it is dropped.
            Snapshot::Sqlite(_) => Ok(()),
            Snapshot::Postgres(tx) => tx.rollback().await,
        }
    }
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
    use chrono::{NaiveTime, TimeDelta, TimeZone};

    use super::*;
    use crate::exports::scope::day_start;

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
