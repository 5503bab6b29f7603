//! What an export says about itself, written into the file where the format can hold it: a
//! top-level `"manifest"` in JSON, `manifest.json` in a ZIP of CSVs, an "About" sheet in XLSX.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    exports::{
        model::{ExportFormat, ExportType},
        scope::DateRange,
    },
    records::EntityType,
};

/// The description of one export's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub export_request_id: Uuid,
    pub export_type: ExportType,
    pub export_format: ExportFormat,
    pub entity_types: Vec<EntityType>,
    /// `null` for all time.
    pub date_range: Option<DateRange>,
    /// The zone whose calendar days the range names.
    pub time_zone: String,
    /// The columns written for each entity type, in order.
    pub columns: BTreeMap<&'static str, Vec<&'static str>>,
    pub de_identified: bool,
    /// As people read it ("Payment", "Other: state registry"); `null` where none was stated.
    pub purpose: Option<String>,
    pub recipient: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// The moment of the database snapshot every row was read from.
    pub snapshot_at: DateTime<Utc>,
    pub row_counts: BTreeMap<EntityType, u64>,
}

impl Manifest {
    /// The "About" sheet's rows: what each field is, and its value as text.
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut lines = vec![
            ("Export request".to_owned(), self.export_request_id.to_string()),
            ("Export type".to_owned(), self.export_type.label().to_owned()),
            ("Format".to_owned(), self.export_format.label().to_owned()),
            (
                "Record types".to_owned(),
                self.entity_types
                    .iter()
                    .map(|entity| entity.label())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "Dates".to_owned(),
                match self.date_range {
                    Some(range) => format!("{} ({})", range.label(), self.time_zone),
                    None => "All time".to_owned(),
                },
            ),
            (
                "De-identified".to_owned(),
                if self.de_identified { "Yes" } else { "No" }.to_owned(),
            ),
            ("Purpose".to_owned(), self.purpose.clone().unwrap_or_default()),
            ("Recipient".to_owned(), self.recipient.clone().unwrap_or_default()),
            ("Requested at".to_owned(), self.requested_at.to_rfc3339()),
            ("Snapshot at".to_owned(), self.snapshot_at.to_rfc3339()),
        ];
        for entity in &self.entity_types {
            let columns = self.columns.get(entity.key()).cloned().unwrap_or_default();
            lines.push((format!("Columns: {}", entity.label()), columns.join(", ")));
        }
        for entity in &self.entity_types {
            let rows = self.row_counts.get(entity).copied().unwrap_or_default();
            lines.push((format!("Rows: {}", entity.label()), rows.to_string()));
        }
        lines
    }
}
