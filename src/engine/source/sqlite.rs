//! SQLite snapshots read on a thread of their own, through rusqlite: sqlx's driver runs each
//! statement on a worker thread and hands every row over a channel (a thread wake-up and a copy
//! of every value per row, most of an export's time in the profile). Here one thread holds a
//! connection of its own in one read transaction, steps each entity's statement straight through,
//! decodes rows into [`Value`]s and hands them over a batch at a time, overlapping with the
//! encoder.

use std::{path::PathBuf, sync::mpsc as sync_mpsc, time::Duration};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{
    InterruptHandle, OpenFlags,
    types::{Value as Raw, ValueRef},
};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{
    engine::value::Value,
    records::{Column, Kind},
};

/// How long the reader waits for a lock (only a checkpoint's brief one, in WAL mode): as the pool.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// A value bound to a statement, encoded as sqlx encodes it for SQLite, so comparisons with the
/// stored values hold.
pub fn uuid(id: Uuid) -> Raw {
    Raw::Blob(id.as_bytes().to_vec())
}

pub fn day(date: NaiveDate) -> Raw {
    Raw::Text(date.format("%F").to_string())
}

pub fn instant(at: DateTime<Utc>) -> Raw {
    Raw::Text(at.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

/// Rows decoded by the columns' kinds, a batch at a time.
pub type Batch = Result<Vec<Vec<Value>>, sqlx::Error>;

/// A query with its parameters (bound in order of appearance).
pub struct Query {
    pub sql: String,
    pub params: Vec<Raw>,
}

enum Request {
    Count(Query, oneshot::Sender<Result<i64, sqlx::Error>>),
    Read {
        query: Query,
        columns: Vec<Column>,
        batch_rows: usize,
        batches: mpsc::Sender<Batch>,
    },
}

/// One read transaction on its own connection and thread. Dropping it interrupts whatever
/// statement is running and ends the transaction.
pub struct Reader {
    requests: Option<sync_mpsc::Sender<Request>>,
    interrupt: InterruptHandle,
}

impl Reader {
    /// Opens `path` and begins the transaction; the snapshot is taken at the first read.
    pub async fn open(path: PathBuf) -> Result<Reader, sqlx::Error> {
        let (opened_tx, opened) = oneshot::channel();
        let (requests, inbox) = sync_mpsc::channel();
        std::thread::Builder::new()
            .name("export-sqlite-reader".into())
            .spawn(move || {
                let conn = match begin(&path) {
                    Ok(conn) => conn,
                    Err(error) => {
                        let _ = opened_tx.send(Err(driver(error)));
                        return;
                    }
                };
                if opened_tx.send(Ok(conn.get_interrupt_handle())).is_err() {
                    return;
                }
                serve(&conn, inbox);
                // Ends the read transaction (the connection closes when dropped).
                let _ = conn.execute_batch("ROLLBACK");
            })
            .map_err(sqlx::Error::Io)?;
        let interrupt = opened.await.map_err(|_| sqlx::Error::WorkerCrashed)??;
        Ok(Reader {
            requests: Some(requests),
            interrupt,
        })
    }

    pub async fn count(&self, query: Query) -> Result<i64, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Count(query, reply))?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// The rows of `query`, decoded by `columns`, `batch_rows` at a time; the reading stops when
    /// the receiver is dropped.
    pub fn read(
        &self,
        query: Query,
        columns: Vec<Column>,
        batch_rows: usize,
    ) -> Result<mpsc::Receiver<Batch>, sqlx::Error> {
        // One batch on its way while the engine works on the one before.
        let (batches, receiver) = mpsc::channel(1);
        self.send(Request::Read {
            query,
            columns,
            batch_rows,
            batches,
        })?;
        Ok(receiver)
    }

    fn send(&self, request: Request) -> Result<(), sqlx::Error> {
        self.requests
            .as_ref()
            .and_then(|requests| requests.send(request).ok())
            .ok_or(sqlx::Error::WorkerCrashed)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // The thread ends once its inbox is closed and the running statement stops.
        self.requests.take();
        self.interrupt.interrupt();
    }
}

fn begin(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("BEGIN")?;
    Ok(conn)
}

fn serve(conn: &rusqlite::Connection, inbox: sync_mpsc::Receiver<Request>) {
    for request in inbox {
        match request {
            Request::Count(query, reply) => {
                let count = conn
                    .query_row(&query.sql, rusqlite::params_from_iter(&query.params), |row| {
                        row.get::<_, i64>(0)
                    })
                    .map_err(driver);
                let _ = reply.send(count);
            }
            Request::Read {
                query,
                columns,
                batch_rows,
                batches,
            } => {
                if let Err(failure) = read(conn, &query, &columns, batch_rows, &batches) {
                    let _ = batches.blocking_send(Err(failure.into_sqlx(&columns)));
                }
            }
        }
    }
}

/// Steps `query` through, sending `batch_rows` decoded rows at a time; stops early (without an
/// error) once nobody receives.
fn read(
    conn: &rusqlite::Connection,
    query: &Query,
    columns: &[Column],
    batch_rows: usize,
    batches: &mpsc::Sender<Batch>,
) -> Result<(), Failure> {
    let mut statement = conn.prepare(&query.sql)?;
    for (index, param) in query.params.iter().enumerate() {
        statement.raw_bind_parameter(index + 1, param)?;
    }
    let mut rows = statement.raw_query();
    let mut batch = Vec::with_capacity(batch_rows);
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            let value = decode(row.get_ref(index)?, column.kind)
                .map_err(|message| Failure::Decode(index, message))?;
            values.push(value);
        }
        batch.push(values);
        if batch.len() == batch_rows {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
            if batches.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(Ok(batch));
    }
    Ok(())
}

enum Failure {
    Driver(rusqlite::Error),
    /// A column's value is not what its kind says (the message names no value).
    Decode(usize, String),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Failure::Driver(error)
    }
}

impl Failure {
    fn into_sqlx(self, columns: &[Column]) -> sqlx::Error {
        match self {
            Failure::Driver(error) => driver(error),
            Failure::Decode(index, source) => sqlx::Error::ColumnDecode {
                index: columns[index].name.to_owned(),
                source: source.into(),
            },
        }
    }
}

/// A stored value as the cell its column's kind makes it (as sqlx would decode it).
fn decode(value: ValueRef<'_>, kind: Kind) -> Result<Value, String> {
    fn text(bytes: &[u8], kind: Kind) -> Result<&str, String> {
        std::str::from_utf8(bytes).map_err(|_| format!("{kind:?} column holds text that is not UTF-8"))
    }
    let mismatch = || Err(format!("{kind:?} column holds {}", value.data_type()));
    Ok(match (kind, value) {
        (_, ValueRef::Null) => Value::Null,
        (Kind::Id, ValueRef::Blob(bytes)) => {
            let id = Uuid::from_slice(bytes)
                .map_err(|_| "Id column holds a blob that is not a UUID".to_owned())?;
            Value::Text(
                id.hyphenated()
                    .encode_lower(&mut Uuid::encode_buffer())
                    .to_owned(),
            )
        }
        (Kind::Text | Kind::Json, ValueRef::Text(bytes) | ValueRef::Blob(bytes)) => {
            let text = text(bytes, kind)?.to_owned();
            if kind == Kind::Json {
                Value::Json(text)
            } else {
                Value::Text(text)
            }
        }
        (Kind::Text, ValueRef::Integer(int)) => Value::Text(int.to_string()),
        (Kind::Integer | Kind::Money, ValueRef::Integer(int)) => Value::Int(int),
        (Kind::Bool, ValueRef::Integer(int)) => Value::Bool(int != 0),
        (Kind::Date, ValueRef::Text(bytes)) => Value::Date(
            NaiveDate::parse_from_str(text(bytes, kind)?, "%F")
                .map_err(|_| "Date column holds text that is not a date".to_owned())?,
        ),
        (Kind::Timestamp, ValueRef::Text(bytes)) => Value::Timestamp(
            parse_instant(text(bytes, kind)?)
                .ok_or_else(|| "Timestamp column holds text that is not an instant".to_owned())?,
        ),
        (Kind::Timestamp, ValueRef::Integer(seconds)) => Value::Timestamp(
            DateTime::from_timestamp(seconds, 0)
                .ok_or_else(|| "Timestamp column holds an integer out of range".to_owned())?,
        ),
        _ => return mismatch(),
    })
}

/// An instant as sqlx writes it (RFC 3339) or as SQLite's own functions do (`YYYY-MM-DD HH:MM:SS`,
/// UTC).
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%F %T%.f")
                .ok()
                .map(|at| at.and_utc())
        })
}

/// A failure of the driver itself: busy, locked and I/O errors may pass on a retry.
fn driver(error: rusqlite::Error) -> sqlx::Error {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, SystemIoFailure};
    match error.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked | SystemIoFailure) => {
            sqlx::Error::Io(std::io::Error::other(error))
        }
        _ => sqlx::Error::AnyDriverError(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_decode_by_kind_and_mismatches_name_no_value() {
        let id = Uuid::new_v4();
        assert_eq!(
            decode(ValueRef::Blob(id.as_bytes()), Kind::Id).unwrap(),
            Value::Text(id.to_string())
        );
        assert_eq!(
            decode(ValueRef::Text(b"2026-02-10T16:45:00+00:00"), Kind::Timestamp).unwrap(),
            Value::Timestamp("2026-02-10T16:45:00Z".parse().unwrap())
        );
        assert_eq!(
            decode(ValueRef::Text(b"2026-02-10 16:45:00"), Kind::Timestamp).unwrap(),
            Value::Timestamp("2026-02-10T16:45:00Z".parse().unwrap())
        );
        assert_eq!(
            decode(ValueRef::Text(b"2026-02-10"), Kind::Date).unwrap(),
            Value::Date(NaiveDate::from_ymd_opt(2026, 2, 10).unwrap())
        );
        assert_eq!(
            decode(ValueRef::Integer(1), Kind::Bool).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(decode(ValueRef::Null, Kind::Money).unwrap(), Value::Null);
        let error = decode(ValueRef::Text(b"Jane Doe"), Kind::Integer).unwrap_err();
        assert!(!error.contains("Jane"), "{error}");
        let error = decode(ValueRef::Text(b"Jane Doe"), Kind::Date).unwrap_err();
        assert!(!error.contains("Jane"), "{error}");
    }

    #[test]
    fn bound_values_are_encoded_as_sqlx_stores_them() {
        let at: DateTime<Utc> = "2026-02-10T16:45:00Z".parse().unwrap();
        assert_eq!(instant(at), Raw::Text("2026-02-10T16:45:00+00:00".into()));
        let date = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert_eq!(day(date), Raw::Text("2026-02-01".into()));
    }
}
