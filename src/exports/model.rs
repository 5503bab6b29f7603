//! The export request as client and server share it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{exports::scope::DateRange, records::EntityType};

/// Where a request is in its life: `pending → processing → completed | failed`; a pending or
/// processing request can be `cancelled`, and a completed one's file `expired` (deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Expired,
}

impl ExportStatus {
    pub const ALL: [ExportStatus; 6] = [
        ExportStatus::Pending,
        ExportStatus::Processing,
        ExportStatus::Completed,
        ExportStatus::Failed,
        ExportStatus::Cancelled,
        ExportStatus::Expired,
    ];

    /// Waiting or being produced: it may still change without anyone acting.
    pub fn is_active(self) -> bool {
        matches!(self, ExportStatus::Pending | ExportStatus::Processing)
    }

    /// Ended without a file to download: it can be run again.
    pub fn can_run_again(self) -> bool {
        matches!(
            self,
            ExportStatus::Failed | ExportStatus::Cancelled | ExportStatus::Expired
        )
    }

    pub fn key(self) -> &'static str {
        match self {
            ExportStatus::Pending => "pending",
            ExportStatus::Processing => "processing",
            ExportStatus::Completed => "completed",
            ExportStatus::Failed => "failed",
            ExportStatus::Cancelled => "cancelled",
            ExportStatus::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportStatus::Pending => "Pending",
            ExportStatus::Processing => "Processing",
            ExportStatus::Completed => "Completed",
            ExportStatus::Failed => "Failed",
            ExportStatus::Cancelled => "Cancelled",
            ExportStatus::Expired => "Expired",
        }
    }

    pub fn from_key(key: &str) -> Option<ExportStatus> {
        ExportStatus::ALL.into_iter().find(|status| status.key() == key)
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Json,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Csv, ExportFormat::Xlsx, ExportFormat::Json];

    pub fn key(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Json => "json",
        }
    }

    /// As the table shows it: CSV, XLSX, JSON.
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Xlsx => "XLSX",
            ExportFormat::Json => "JSON",
        }
    }

    pub fn from_key(key: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|format| format.key() == key)
    }

    /// The file extension: several entities in CSV travel as one ZIP of CSVs.
    pub fn extension(self, entity_count: usize) -> &'static str {
        match self {
            ExportFormat::Csv if entity_count > 1 => "zip",
            other => other.key(),
        }
    }
}

/// What kind of export: which entities it covers and how it treats identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportType {
    FullOrganization,
    SelectedRecords,
    DeidentifiedDataset,
    AuditTrail,
}

/// One row of the exports table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub id: Uuid,
    pub export_type: ExportType,
    pub export_format: ExportFormat,
    pub entity_types: Vec<EntityType>,
    /// The calendar days covered, in the organisation's time zone; `None` for all time.
    pub date_range: Option<DateRange>,
    pub status: ExportStatus,
    pub progress: i32,
    pub row_count: Option<i64>,
    pub file_size_bytes: Option<i64>,
    /// A message safe to show the user; details stay in the server log.
    pub error: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Who asked for it (`None` once that user is deleted): they may cancel it.
    pub requested_by: Option<Uuid>,
    /// When a completed file is deleted; for an expired request, when it was due.
    pub expires_at: Option<DateTime<Utc>>,
    /// Processing, and someone asked to cancel it: "Cancelling…" until the worker stops.
    pub cancel_requested: bool,
    /// The request this one runs again.
    pub rerun_of: Option<Uuid>,
    /// Download links signed for it, from the audit log (counted where the request is shown:
    /// the list and the details; 0 elsewhere).
    #[serde(default)]
    pub downloads: u32,
}

/// Everything known about one request: its details view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDetails {
    pub request: ExportRequest,
    /// Whose calendar days the date range names.
    pub time_zone: String,
    /// The columns written for each entity type, in order.
    pub columns: Vec<(EntityType, Vec<String>)>,
    pub de_identified: bool,
    /// As people read it ("Payment", "Other: …"); `None` where none was stated.
    pub purpose: Option<String>,
    pub recipient: Option<String>,
    /// "Name <email>"; `None` once that user is deleted.
    pub requested_by: Option<String>,
    /// Of a completed export: its snapshot's time, rows per entity type and the file's SHA-256.
    pub snapshot_at: Option<DateTime<Utc>>,
    pub row_counts: Vec<(EntityType, u64)>,
    pub sha256: Option<String>,
    /// The last download link signed: when, and by whom ("Name <email>"; `None` once removed).
    pub last_download: Option<(DateTime<Utc>, Option<String>)>,
}

/// One page of the organisation's export requests, newest first. Pages are keyset pages: each
/// names the one before and after it by a cursor (`older`, `newer`), so a page deep in a long
/// history costs what the first does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPage {
    pub items: Vec<ExportRequest>,
    /// Where the next page of older requests starts (`?before=`), if there are any.
    pub older: Option<String>,
    /// Where the page of newer requests ends (`?after=`); `None` on the newest page.
    pub newer: Option<String>,
    /// How many requests the organisation has, counted no further than [`ExportCount`] says.
    pub total: ExportCount,
    /// Some request of the organisation (on any page) is pending or processing.
    pub has_active: bool,
    /// When the page was read: "expires in …" counts from here, the same on server and client.
    pub read_at: DateTime<Utc>,
    /// How long the organisation keeps completed files, and whether it chose that (`false`: the
    /// server's default).
    pub retention: Retention,
}

/// How long an organisation's completed files are kept before they expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub secs: u64,
    /// Set by the organisation (else the server's default applies).
    pub chosen: bool,
}

impl Retention {
    /// The shortest and longest an organisation may choose: one hour to thirty days.
    pub const MIN_HOURS: u32 = 1;
    pub const MAX_HOURS: u32 = 30 * 24;
}

/// What Run again did: queued a new request, or found an identical one already pending or
/// processing and queued nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunAgain {
    Queued(Uuid),
    AlreadyQueued(Uuid),
}

impl RunAgain {
    /// The request to point the user at.
    pub fn id(self) -> Uuid {
        match self {
            RunAgain::Queued(id) | RunAgain::AlreadyQueued(id) => id,
        }
    }
}

/// What Cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cancelled {
    /// It had not started: cancelled now.
    Now,
    /// A worker is producing it: it stops within seconds ("Cancelling…").
    Stopping,
}

/// How many export requests an organisation has: exactly, up to a bound past which counting
/// would cost a pass over the whole history on every page; beyond it, "at least".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportCount {
    Exactly(u64),
    AtLeast(u64),
}

impl ExportCount {
    /// "1 export", "25 exports", "1,000+ exports".
    pub fn label(self) -> String {
        match self {
            ExportCount::Exactly(1) => "1 export".to_owned(),
            ExportCount::Exactly(n) => format!("{} exports", crate::format::thousands(n)),
            ExportCount::AtLeast(n) => format!("{}+ exports", crate::format::thousands(n)),
        }
    }
}

/// Which page of the list to show: the newest (neither set), the one older than a cursor, or the
/// one newer than a cursor (the `?before=` and `?after=` of the page's address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPosition {
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What the New Export dialog submits. Text as typed, so that every mistake comes back as a
/// message naming its field rather than as a decoding error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewExport {
    pub export_type: String,
    pub export_format: String,
    #[serde(default)]
    pub entity_types: Vec<String>,
    /// Column names per entity type key; an entity type left out exports every column offered.
    #[serde(default)]
    pub columns: BTreeMap<String, Vec<String>>,
    /// `YYYY-MM-DD`, both or neither (all time).
    #[serde(default)]
    pub date_from: String,
    #[serde(default)]
    pub date_to: String,
    /// A [`Purpose`](crate::exports::scope::Purpose) key.
    #[serde(default)]
    pub purpose: String,
    /// What an "other" purpose is.
    #[serde(default)]
    pub purpose_detail: String,
    #[serde(default)]
    pub recipient: String,
    /// Ticked to request an export above the organisation's row threshold.
    #[serde(default)]
    pub confirmed: bool,
}

/// What an export would hold if requested now: rows per entity type (counted with the engine's
/// own filter) and about how big its file would be. An estimate: the file's real counts come
/// from the snapshot it is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPreview {
    pub row_counts: Vec<(EntityType, u64)>,
    pub rows: u64,
    pub estimated_bytes: u64,
    /// Above this many rows, a request needs `confirmed`.
    pub confirm_above: u64,
}

impl ExportPreview {
    pub fn needs_confirmation(&self) -> bool {
        self.rows > self.confirm_above
    }
}
