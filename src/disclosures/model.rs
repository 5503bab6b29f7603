//! The accounting of disclosures as the page and its files show it: shared by the server and the
//! browser.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::exports::scope::DateRange;

/// Disclosures shown a page at a time.
pub const PAGE_SIZE: usize = 25;

/// A client found by record number or name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMatch {
    pub id: Uuid,
    pub record_number: String,
    /// "First Last".
    pub name: String,
}

/// One export that carried the client's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRow {
    pub completed_at: DateTime<Utc>,
    /// The day and time it completed, in the organisation's zone ("31 Oct 2026, 14:05").
    pub completed_label: String,
    pub recipient: Option<String>,
    /// "Payment", "Other: …".
    pub purpose: Option<String>,
    /// "Selected records".
    pub export_type: String,
    /// "Clients, Claims".
    pub record_types: String,
    /// "1 Oct 2026 – 31 Oct 2026 (America/New_York)", or `None` for all time.
    pub dates: Option<String>,
    /// "Health information (PHI), Personal details (PII)".
    pub information: String,
    /// "Name <email>", or `None` once the user is gone from the request.
    pub requested_by: Option<String>,
}

impl DisclosureRow {
    /// What was disclosed, in a sentence: the type, record types, dates and classes.
    pub fn description(&self) -> String {
        let dates = self
            .dates
            .as_deref()
            .map_or_else(|| "all dates".to_owned(), str::to_owned);
        format!(
            "{}: {}; {}; {}",
            self.export_type, self.record_types, dates, self.information
        )
    }
}

/// One client's accounting: a page of it, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    pub client: ClientMatch,
    /// Days of the organisation's zone, both included.
    pub period: DateRange,
    pub time_zone: String,
    pub items: Vec<DisclosureRow>,
    /// Disclosures in the whole period.
    pub total: usize,
    /// This page, from 1.
    pub page: usize,
    pub pages: usize,
}
