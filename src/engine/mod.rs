//! The export engine: turns a claimed request into a file in the object store. The reader
//! streams the organisation's rows from one database snapshot, de-identifies them if the export
//! type says so, and hands them over a bounded channel to an encoder on a blocking thread, whose
//! output goes over another bounded channel to the object store's writer. Memory stays flat; if
//! any stage fails, the object is aborted and nothing is left at its key. A cancelled job stops
//! at once, wherever it waits (a stalled store included): its temporary file goes with it, and an
//! open S3 upload stays noted for whoever finishes the request (see `exports::uploads`).

pub mod deidentify;
pub mod encode;
pub mod manifest;
pub mod source;
pub mod value;
pub mod worker;

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::TryStreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    db::Db,
    disclosures::ledger::Carried,
    exports::{
        catalog::ValidExport,
        stored::{self, StoredRequest},
    },
    records::{Column, EntityType},
    storage::{ObjectKey, ObjectStore, StorageError},
};
use encode::{EncodeError, Message};
use manifest::Manifest;
use sha2::{Digest, Sha256};
use source::{EntityReader, Filter, Order, Snapshot};

/// Why a job was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// Another worker holds the request now: record nothing.
    LeaseLost,
    /// This process is shutting down and the grace period is over: hand the request back.
    Shutdown,
    /// Someone cancelled the request: record `cancelled` and leave no file.
    Cancelled,
}

/// Stops a running job, saying why (the first reason given wins).
#[derive(Debug, Default)]
pub struct Cancel {
    token: CancellationToken,
    reason: std::sync::OnceLock<CancelReason>,
}

impl Cancel {
    pub fn cancel(&self, reason: CancelReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Waits until the job is stopped; returns why.
    pub async fn fired(&self) -> CancelReason {
        self.token.cancelled().await;
        self.reason
            .get()
            .copied()
            .expect("the reason is set before the token fires")
    }
}

/// Why a job did not produce a file.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cancelled ({0:?})")]
    Cancelled(CancelReason),
    #[error("database: {}", crate::error::LogSafe(.0))]
    Database(#[from] sqlx::Error),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl JobError {
    /// Caused by the infrastructure and worth another attempt: the database or the store may be
    /// back. What fails the same way every time (a row that cannot be decoded, a format that
    /// cannot hold the data, a full disk) is not.
    pub fn is_transient(&self) -> bool {
        match self {
            JobError::Storage(error) => error.may_pass(),
            JobError::Database(error) => crate::db::may_pass(error),
            _ => false,
        }
    }

    /// What the user reads on the failed row. Never the error's details (they stay in the log).
    pub fn user_message(&self) -> &'static str {
        match self {
            JobError::Encode(EncodeError::Unsupported(message)) => message,
            JobError::Storage(error) if error.is_out_of_space() => {
                "The file store is full, so the export could not be saved. Ask your administrator to free space, then request the export again."
            }
            JobError::Storage(_) => "The file could not be stored. Request the export again.",
            JobError::Database(_) => "The records could not be read. Request the export again.",
            JobError::Cancelled(_) | JobError::Encode(_) => {
                "The export could not be produced. Request it again; if it keeps failing, contact support."
            }
        }
    }
}

/// What a claimed request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub organization_id: Uuid,
    pub export_request_id: Uuid,
    pub attempt: i32,
    pub spec: ValidExport,
    /// Where the spec's calendar days are days.
    pub time_zone: Tz,
    pub requested_at: DateTime<Utc>,
    /// Who asked for it (`None` once the user is deleted): the ledger of disclosures names them.
    pub requested_by: Option<Uuid>,
    /// Collect the clients whose records the file carries, for the ledger of disclosures: every
    /// identified export does (a de-identified one carries nobody's).
    pub ledger: bool,
}

impl Plan {
    /// The claim's export, at the claim's attempt.
    pub fn of(claim: &StoredRequest) -> Plan {
        Plan {
            organization_id: claim.organization_id,
            export_request_id: claim.id(),
            attempt: claim.attempt,
            spec: claim.spec.clone(),
            time_zone: claim.time_zone,
            requested_at: claim.request.requested_at,
            requested_by: claim.requested_by,
            ledger: !claim.spec.export_type.deidentifies(),
        }
    }

    /// The file's disclosure, as the ledger records it.
    pub fn disclosure(&self) -> crate::disclosures::ledger::Disclosed<'_> {
        crate::disclosures::ledger::Disclosed {
            export_request_id: self.export_request_id,
            organization_id: self.organization_id,
            spec: &self.spec,
            time_zone: self.time_zone.name(),
            requested_by: self.requested_by,
        }
    }

    /// What the file says about itself, once its rows are counted.
    pub fn manifest(&self, snapshot_at: DateTime<Utc>, row_counts: BTreeMap<EntityType, u64>) -> Manifest {
        let disclosure = self.spec.disclosure.as_ref();
        Manifest {
            export_request_id: self.export_request_id,
            export_type: self.spec.export_type,
            export_format: self.spec.export_format,
            entity_types: self.spec.entity_types.clone(),
            date_range: self.spec.date_range,
            time_zone: self.time_zone.name().to_owned(),
            columns: self.spec.column_names(),
            de_identified: self.spec.export_type.deidentifies(),
            purpose: disclosure.map(|d| d.purpose_label()),
            recipient: disclosure.map(|d| d.recipient.clone()),
            requested_at: self.requested_at,
            snapshot_at,
            row_counts,
        }
    }

    /// The columns exported for `entity`, as chosen (never more than its type offers).
    pub fn columns(&self, entity: EntityType) -> Vec<Column> {
        self.spec.columns(entity).to_vec()
    }

    /// Which of `entity`'s rows are exported: `None` for all of them.
    pub fn filter(&self, entity: EntityType) -> Option<Filter> {
        Filter::of(&self.spec, entity, self.time_zone)
    }

    /// Where this attempt writes.
    pub fn object_key(&self) -> ObjectKey {
        stored::file_key(
            self.organization_id,
            self.export_request_id,
            self.attempt,
            &self.spec,
        )
    }
}

/// Rows read so far, and how many there are, for progress reports.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
}

impl Progress {
    /// 0–99 while running (100 is for completion).
    pub fn percent(&self) -> i64 {
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed).min(total);
        (done * 99).checked_div(total).unwrap_or(0) as i64
    }
}

/// A file that is now in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    pub key: ObjectKey,
    pub row_count: u64,
    pub size: u64,
    /// Of the bytes stored, hex, computed while they streamed.
    pub sha256: String,
    pub row_counts: BTreeMap<EntityType, u64>,
    /// When the snapshot the rows were read from was taken.
    pub snapshot_at: DateTime<Utc>,
    /// The clients whose records the file carries (any row of theirs, of any record type), when
    /// the plan keeps the ledger.
    pub clients: Option<Carried>,
}

/// How the engine is tuned.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub batch_rows: u32,
    /// At most this many rows a second (`None`: no limit).
    pub rows_per_second: Option<std::num::NonZeroU32>,
    pub options: encode::Options,
}

/// How many rows of each entity type `spec` would export for the organisation now, counted with
/// the reader's own filter in the zone `zone` (the row-count preview; a file's counts come from
/// its own snapshot).
pub async fn count_rows(
    db: &Db,
    organization_id: Uuid,
    spec: &ValidExport,
    zone: Tz,
) -> Result<Vec<(EntityType, u64)>, sqlx::Error> {
    let mut snapshot = Snapshot::open(db).await?;
    let mut counts = Vec::new();
    for &entity in &spec.entity_types {
        let filter = Filter::of(spec, entity, zone);
        counts.push((
            entity,
            snapshot.count(organization_id, entity, filter.as_ref()).await?,
        ));
    }
    let _ = snapshot.close().await;
    Ok(counts)
}

/// About how big `spec`'s file would be with these row counts.
pub fn estimated_bytes(spec: &ValidExport, counts: &[(EntityType, u64)]) -> u64 {
    let tables: Vec<(&[Column], u64)> = counts
        .iter()
        .map(|(entity, rows)| (spec.columns(*entity), *rows))
        .collect();
    encode::estimated_bytes(spec.export_format, &tables)
}

/// Produces the file `plan` asks for. Stops with [`JobError::Cancelled`] as soon as `cancel`
/// fires, even while a read or an upload hangs; on any other error nothing is left in the store.
pub async fn produce(
    db: &Db,
    storage: &ObjectStore,
    plan: &Plan,
    settings: Settings,
    progress: &Progress,
    cancel: &Cancel,
) -> Result<Produced, JobError> {
    // Dropping the work stops every stage: the reader's transaction rolls back, the encoder sees
    // its channel close, a local temporary file is removed and an S3 upload stays journaled.
    tokio::select! {
        produced = produce_file(db, storage, plan, settings, progress) => produced,
        reason = cancel.fired() => Err(JobError::Cancelled(reason)),
    }
}

async fn produce_file(
    db: &Db,
    storage: &ObjectStore,
    plan: &Plan,
    settings: Settings,
    progress: &Progress,
) -> Result<Produced, JobError> {
    let entity_count = plan.spec.entity_types.len();
    let key = plan.object_key();
    let mut snapshot = Snapshot::open(db).await?;
    let snapshot_at = crate::db::now();
    for entity in &plan.spec.entity_types {
        let rows = snapshot
            .count(plan.organization_id, *entity, plan.filter(*entity).as_ref())
            .await?;
        progress.total.fetch_add(rows, Ordering::Relaxed);
    }
    let journal = crate::exports::uploads::Journal::new(db.clone(), plan.export_request_id);
    let mut writer = storage
        .writer(&key, encode::content_type(plan.spec.export_format, entity_count))
        .await?
        .with_journal(std::sync::Arc::new(journal));

    let (rows_tx, rows_rx) = mpsc::channel::<Message>(4);
    let (bytes_tx, mut bytes_rx) = mpsc::channel::<bytes::Bytes>(4);
    let format = plan.spec.export_format;
    let encoder = tokio::task::spawn_blocking(move || {
        encode::run(format, entity_count, settings.options, rows_rx, bytes_tx)
    });
    let mut hasher = Sha256::new();
    let upload = async {
        while let Some(chunk) = bytes_rx.recv().await {
            hasher.update(&chunk);
            writer.write(&chunk).await?;
        }
        Ok::<_, JobError>(())
    };
    let read = read_all(&mut snapshot, plan, settings, progress, snapshot_at, rows_tx);
    let (read, uploaded, encoded) = tokio::join!(read, upload, encoder);
    let encoded =
        encoded.unwrap_or_else(|panic| Err(EncodeError::Format(format!("encoder panicked: {panic}"))));
    // Report the cause, not the stages that stopped because another one did.
    let outcome = match (read, encoded, uploaded) {
        (Ok(read), Ok(()), Ok(())) => Ok(read),
        (Err(error), _, _) if !matches!(error, JobError::Encode(EncodeError::Closed)) => Err(error),
        (_, Err(error), _) if !matches!(error, EncodeError::Closed) => Err(error.into()),
        (_, _, Err(error)) => Err(error),
        (Err(error), _, _) => Err(error),
        (_, Err(error), _) => Err(error.into()),
    };
    let _ = snapshot.close().await;
    match outcome {
        Ok(Read { row_counts, clients }) => {
            let size = writer.finish().await?;
            Ok(Produced {
                key,
                row_count: row_counts.values().sum(),
                size,
                sha256: format!("{:x}", hasher.finalize()),
                row_counts,
                snapshot_at,
                clients,
            })
        }
        Err(error) => {
            writer.abort().await;
            Err(error)
        }
    }
}

/// What the reader sent: rows per entity type, and whose records they were.
struct Read {
    row_counts: BTreeMap<EntityType, u64>,
    clients: Option<Carried>,
}

/// Where a row names its client: at a column the export writes, or in one read only for the
/// ledger, after the written ones (taken off before the row goes to the encoder).
#[derive(Clone, Copy)]
enum ClientAt {
    Written(usize),
    ReadOnly,
}

/// The columns to read for `entity` (the written ones, then, if the ledger needs it and they
/// lack it, the client column) and where the client is among them.
fn columns_to_read(plan: &Plan, entity: EntityType) -> (Vec<Column>, Option<ClientAt>) {
    let mut columns = plan.columns(entity);
    let client = plan.ledger.then(|| entity.client_column()).flatten();
    let at = client.map(
        |client| match columns.iter().position(|c| c.name == client.name) {
            Some(index) => ClientAt::Written(index),
            None => {
                columns.push(client);
                ClientAt::ReadOnly
            }
        },
    );
    (columns, at)
}

/// Adds the client each of `batch`'s rows names to `clients`, taking off a column read only for
/// that.
fn note_clients(batch: &mut [Vec<value::Value>], at: ClientAt, clients: &mut Carried) {
    for row in batch {
        let taken;
        let cell = match at {
            ClientAt::Written(index) => row.get(index),
            ClientAt::ReadOnly => {
                taken = row.pop();
                taken.as_ref()
            }
        };
        if let Some(value::Value::Text(id)) = cell
            && let Ok(id) = Uuid::try_parse(id)
        {
            clients.note(id);
        }
    }
}

/// Streams every entity's rows to the encoder, then the manifest; returns how many rows of each
/// entity type were sent, and (for the ledger) whose records they were.
async fn read_all(
    snapshot: &mut Snapshot,
    plan: &Plan,
    settings: Settings,
    progress: &Progress,
    snapshot_at: DateTime<Utc>,
    rows: mpsc::Sender<Message>,
) -> Result<Read, JobError> {
    let closed = |_| JobError::Encode(EncodeError::Closed);
    let deidentifier = plan
        .spec
        .export_type
        .deidentifies()
        .then(|| deidentify::Deidentifier::new(rand::random(), Utc::now().date_naive()));
    // A de-identified file must not line up with any other file row by row.
    let order = match deidentifier {
        Some(_) => Order::Shuffled,
        None => Order::Stored,
    };
    let mut counts = BTreeMap::new();
    // The clients the ledger has numbered, read from the same snapshot, so each row's client
    // becomes a bit (a client numbered later is noted by id and numbered at completion).
    let mut clients = if plan.ledger {
        Some(Carried::new(snapshot.subjects(plan.organization_id).await?))
    } else {
        None
    };
    // The rate limit's clock: rows read since the start.
    let (started, mut read) = (tokio::time::Instant::now(), 0u64);
    for entity in &plan.spec.entity_types {
        let sent = counts.entry(*entity).or_insert(0u64);
        let columns = plan.columns(*entity);
        let (read_columns, client_at) = columns_to_read(plan, *entity);
        let reader = EntityReader::new(
            plan.organization_id,
            *entity,
            read_columns,
            plan.filter(*entity),
            order,
            settings.batch_rows,
        );
        rows.send(Message::Begin(*entity, columns.clone()))
            .await
            .map_err(closed)?;
        let mut batches = snapshot.batches(&reader);
        while let Some(mut batch) = batches.try_next().await? {
            if let Some(deidentifier) = &deidentifier {
                for row in &mut batch {
                    deidentifier.apply(reader.columns(), row);
                }
            }
            if let (Some(at), Some(clients)) = (client_at, clients.as_mut()) {
                note_clients(&mut batch, at, clients);
            }
            let count = batch.len() as u64;
            rows.send(Message::Rows(batch)).await.map_err(closed)?;
            *sent += count;
            progress.done.fetch_add(count, Ordering::Relaxed);
            if let Some(rate) = settings.rows_per_second {
                read += count;
                let due = Duration::from_secs_f64(read as f64 / f64::from(rate.get()));
                tokio::time::sleep_until(started + due).await;
            }
        }
    }
    let manifest = plan.manifest(snapshot_at, counts.clone());
    rows.send(Message::Finish(Box::new(manifest)))
        .await
        .map_err(closed)?;
    Ok(Read {
        row_counts: counts,
        clients,
    })
}
