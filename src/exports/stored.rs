//! An export request as stored: its row decoded once into typed values (the list, the worker's
//! claim, the download and the deletion all read it so), and the one home of its files' keys and
//! download name.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    exports::{
        catalog::{self, ValidExport},
        model::{ExportDetails, ExportRequest, ExportStatus, NewExport},
        scope::Disclosure,
    },
    records::EntityType,
    storage::ObjectKey,
};

/// The columns a [`StoredRequest`] is read from, in any query that returns one.
pub const COLUMNS: &str = "id, organization_id, requested_by, export_type, export_format, entity_types, \
                           status, progress, row_count, file_size_bytes, error, requested_at, completed_at, \
                           storage_key, file_name, attempt, max_attempts, date_from, date_to, time_zone, \
                           chosen_columns, purpose, purpose_detail, recipient, snapshot_at, row_counts, sha256, \
                           expires_at, cancel_requested_at, rerun_of";

/// A row of `pf_export_requests`, typed and checked against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    /// The request as the exports table shows it.
    pub request: ExportRequest,
    /// What it exports: type, format, entity types, columns, dates, purpose and recipient.
    pub spec: ValidExport,
    /// The organisation's time zone when it was requested: its dates are days of this zone.
    pub time_zone: Tz,
    pub organization_id: Uuid,
    /// `None` once the requesting user has been deleted.
    pub requested_by: Option<Uuid>,
    /// The completed file's key.
    pub storage_key: Option<String>,
    /// The name the completed file downloads as.
    pub file_name: Option<String>,
    /// Attempts so far: each may have written a file of its own.
    pub attempt: i32,
    pub max_attempts: i32,
    /// Of the completed file: when its snapshot was taken, its rows per entity type, and the
    /// hex SHA-256 of its bytes.
    pub snapshot_at: Option<DateTime<Utc>>,
    pub row_counts: BTreeMap<EntityType, u64>,
    pub sha256: Option<String>,
}

/// The row as the database holds it.
#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    organization_id: Uuid,
    requested_by: Option<Uuid>,
    export_type: String,
    export_format: String,
    entity_types: Json<Vec<String>>,
    status: String,
    progress: i32,
    row_count: Option<i64>,
    file_size_bytes: Option<i64>,
    error: Option<String>,
    requested_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    storage_key: Option<String>,
    file_name: Option<String>,
    attempt: i32,
    max_attempts: i32,
    date_from: Option<NaiveDate>,
    date_to: Option<NaiveDate>,
    time_zone: String,
    chosen_columns: Option<Json<BTreeMap<String, Vec<String>>>>,
    purpose: Option<String>,
    purpose_detail: Option<String>,
    recipient: Option<String>,
    snapshot_at: Option<DateTime<Utc>>,
    row_counts: Option<Json<BTreeMap<EntityType, u64>>>,
    sha256: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    cancel_requested_at: Option<DateTime<Utc>>,
    rerun_of: Option<Uuid>,
}

/// A stored value the catalog does not know (written by hand, or by a newer version).
#[derive(Debug, thiserror::Error)]
#[error("export request {id}: {column} holds a value the catalog does not know")]
pub struct CorruptRow {
    id: Uuid,
    column: &'static str,
}

impl TryFrom<Row> for StoredRequest {
    type Error = CorruptRow;

    fn try_from(row: Row) -> Result<Self, CorruptRow> {
        let corrupt = |column| CorruptRow { id: row.id, column };
        let day = |date: Option<NaiveDate>| date.map(|d| d.to_string()).unwrap_or_default();
        // Read back under the rules it was written under.
        let mut spec = catalog::spec(&NewExport {
            export_type: row.export_type,
            export_format: row.export_format,
            entity_types: row.entity_types.0,
            columns: row.chosen_columns.map(|columns| columns.0).unwrap_or_default(),
            date_from: day(row.date_from),
            date_to: day(row.date_to),
            ..NewExport::default()
        })
        .map_err(|_| corrupt("export_type, export_format, entity_types, chosen_columns or dates"))?;
        spec.disclosure = Disclosure::parse(
            row.purpose.as_deref().unwrap_or_default(),
            row.purpose_detail.as_deref().unwrap_or_default(),
            row.recipient.as_deref().unwrap_or_default(),
            false,
        )
        .map_err(|_| corrupt("purpose, purpose_detail or recipient"))?;
        let time_zone = row.time_zone.parse().map_err(|_| corrupt("time_zone"))?;
        let status = ExportStatus::from_key(&row.status).ok_or_else(|| corrupt("status"))?;
        Ok(StoredRequest {
            request: ExportRequest {
                id: row.id,
                export_type: spec.export_type,
                export_format: spec.export_format,
                entity_types: spec.entity_types.clone(),
                date_range: spec.date_range,
                status,
                progress: row.progress,
                row_count: row.row_count,
                file_size_bytes: row.file_size_bytes,
                error: row.error,
                requested_at: row.requested_at,
                completed_at: row.completed_at,
                requested_by: row.requested_by,
                expires_at: row.expires_at,
                cancel_requested: row.cancel_requested_at.is_some() && status == ExportStatus::Processing,
                rerun_of: row.rerun_of,
                downloads: 0,
            },
            spec,
            time_zone,
            organization_id: row.organization_id,
            requested_by: row.requested_by,
            storage_key: row.storage_key,
            file_name: row.file_name,
            attempt: row.attempt,
            max_attempts: row.max_attempts,
            snapshot_at: row.snapshot_at,
            row_counts: row.row_counts.map(|counts| counts.0).unwrap_or_default(),
            sha256: row.sha256,
        })
    }
}

/// Decoded straight from a query: `sqlx::query_as::<_, StoredRequest>(…COLUMNS…)`.
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for StoredRequest
where
    Row: sqlx::FromRow<'r, R>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Row::from_row(row)?
            .try_into()
            .map_err(|error: CorruptRow| sqlx::Error::Decode(Box::new(error)))
    }
}

impl StoredRequest {
    pub fn id(&self) -> Uuid {
        self.request.id
    }

    /// Its details view; `requested_by` names the requester, `last_download` the last signing.
    pub fn details(
        self,
        requested_by: Option<String>,
        last_download: Option<(DateTime<Utc>, Option<String>)>,
    ) -> ExportDetails {
        let disclosure = self.spec.disclosure.as_ref();
        ExportDetails {
            time_zone: self.time_zone.name().to_owned(),
            columns: self
                .spec
                .columns
                .iter()
                .map(|(entity, columns)| (*entity, columns.iter().map(|c| c.name.to_owned()).collect()))
                .collect(),
            de_identified: self.spec.export_type.deidentifies(),
            purpose: disclosure.map(|d| d.purpose_label()),
            recipient: disclosure.map(|d| d.recipient.clone()),
            requested_by,
            snapshot_at: self.snapshot_at,
            row_counts: self.row_counts.into_iter().collect(),
            sha256: self.sha256,
            last_download,
            request: self.request,
        }
    }

    /// Where attempt `attempt` writes its file: each attempt its own key, so an attempt that lost
    /// its claim never overwrites or deletes the file of the one that replaced it.
    pub fn file_key(&self, attempt: i32) -> ObjectKey {
        file_key(self.organization_id, self.request.id, attempt, &self.spec)
    }

    /// The keys attempts `attempts` may have written (deleting what is not there is fine).
    pub fn file_keys(&self, attempts: std::ops::Range<i32>) -> Vec<ObjectKey> {
        attempts.map(|attempt| self.file_key(attempt)).collect()
    }

    /// Every key any attempt may have written, and the recorded one if it is another.
    pub fn every_file_key(&self) -> Vec<ObjectKey> {
        let mut keys = self.file_keys(1..self.attempt + 1);
        if let Some(recorded) = self.storage_key.as_deref().and_then(ObjectKey::parse)
            && recorded.organization_id() == self.organization_id
            && !keys.contains(&recorded)
        {
            keys.push(recorded);
        }
        keys
    }
}

/// Where attempt `attempt` of request `id` writes: `<organisation>/<request>/export-<attempt>.<extension>`.
pub fn file_key(organization_id: Uuid, id: Uuid, attempt: i32, spec: &ValidExport) -> ObjectKey {
    ObjectKey::export_file(organization_id, id, attempt, spec.extension())
}

/// The name a finished export downloads as: `<organisation>-<export-type>-<date>.<extension>`,
/// or, for a date range, `<organisation>-<export-type>-<from>-to-<to>-on-<date>.<extension>`.
pub fn download_name(organization_slug: &str, spec: &ValidExport, date: NaiveDate) -> String {
    let range = spec
        .date_range
        .map(|range| format!("{}-on-", range.file_part()))
        .unwrap_or_default();
    format!(
        "{organization_slug}-{}-{range}{}.{}",
        spec.export_type.key().replace('_', "-"),
        date.format("%Y-%m-%d"),
        spec.extension()
    )
}
