//! One client's accounting, read from the ledger and written as the page shows it, as CSV and as
//! a plain-text letter to hand to the client: dates, recipients, purposes and what was
//! disclosed, and no other client's data and no internal ids.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{
    ledger::Entry,
    model::{Accounting, ClientMatch, DisclosureRow},
};
use crate::{
    exports::{
        model::ExportType,
        scope::{DateRange, Purpose},
    },
    records::{Class, EntityType},
};

/// A ledger entry as people read it, its instants in `zone`.
pub fn row(entry: &Entry, zone: Tz) -> DisclosureRow {
    let keys = |json: &str| serde_json::from_str::<Vec<String>>(json).unwrap_or_default();
    let record_types: Vec<&str> = keys(&entry.entity_types)
        .iter()
        .filter_map(|key| EntityType::from_key(key))
        .map(EntityType::label)
        .collect();
    let information: Vec<&str> = keys(&entry.information)
        .iter()
        .filter_map(|key| Class::from_key(key))
        .map(Class::label)
        .collect();
    let dates = match (entry.date_from, entry.date_to) {
        (Some(from), Some(to)) => Some(format!(
            "{} ({})",
            DateRange { from, to }.label(),
            entry.time_zone
        )),
        _ => None,
    };
    let purpose = entry
        .purpose
        .as_deref()
        .and_then(Purpose::from_key)
        .map(|purpose| match (purpose, entry.purpose_detail.as_deref()) {
            (Purpose::Other, Some(detail)) => format!("Other: {detail}"),
            (purpose, _) => purpose.label().to_owned(),
        });
    DisclosureRow {
        completed_at: entry.completed_at,
        completed_label: local(entry.completed_at, zone),
        recipient: entry.recipient.clone(),
        purpose,
        export_type: ExportType::from_key(&entry.export_type)
            .map_or_else(|| entry.export_type.clone(), |kind| kind.label().to_owned()),
        record_types: record_types.join(", "),
        dates,
        information: information.join(", "),
        requested_by: entry.requested_by.clone(),
    }
}

/// "31 Oct 2026, 14:05" in `zone`.
fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%-d %b %Y, %H:%M").to_string()
}

/// The columns of the CSV file, in order.
pub const CSV_HEADER: [&str; 9] = [
    "date_completed",
    "recipient",
    "purpose",
    "description",
    "export_type",
    "record_types",
    "dates",
    "information",
    "requested_by",
];

/// The whole accounting as CSV: a header, then one line per disclosure, newest first.
pub fn csv(rows: &[DisclosureRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    for row in rows {
        writer.write_record([
            row.completed_label.as_str(),
            row.recipient.as_deref().unwrap_or(""),
            row.purpose.as_deref().unwrap_or(""),
            &row.description(),
            &row.export_type,
            &row.record_types,
            row.dates.as_deref().unwrap_or("all dates"),
            &row.information,
            row.requested_by.as_deref().unwrap_or(""),
        ])?;
    }
    writer.into_inner().map_err(|error| error.into_error().into())
}

/// The accounting as a letter to the client, from the organisation.
pub fn letter(
    organization: &str,
    client: &ClientMatch,
    period: DateRange,
    zone: &str,
    rows: &[DisclosureRow],
    today: chrono::NaiveDate,
) -> String {
    let mut text = format!(
        "Accounting of disclosures\n\n\
         From: {organization}\n\
         To: {name} (record number {mrn})\n\
         Period: {period} ({zone})\n\
         Prepared: {today}\n\n\
         Dear {name},\n\n\
         You asked which disclosures of your health information {organization} made. Below is each \
         time your records were included in an export of our records during the period above: \
         when, to whom, why, and what it contained.\n\n",
        name = client.name,
        mrn = client.record_number,
        period = period.label(),
        today = today.format("%-d %b %Y"),
    );
    if rows.is_empty() {
        text.push_str("No disclosures of your health information were recorded in this period.\n");
    }
    for (number, row) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{}. {}\n   Recipient: {}\n   Purpose: {}\n   What was disclosed: {}\n   Requested by: {}\n\n",
            number + 1,
            row.completed_label,
            row.recipient.as_deref().unwrap_or("not recorded"),
            row.purpose.as_deref().unwrap_or("not recorded"),
            row.description(),
            row.requested_by.as_deref().unwrap_or("not recorded"),
        ));
    }
    text.push_str(&format!("\n{organization}\n"));
    text
}

/// A page of `rows` (from 1; past the end, the last).
pub fn page(
    client: ClientMatch,
    period: DateRange,
    zone: &str,
    rows: Vec<DisclosureRow>,
    page: usize,
) -> Accounting {
    let size = super::model::PAGE_SIZE;
    let total = rows.len();
    let pages = total.div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let items = rows.into_iter().skip((page - 1) * size).take(size).collect();
    Accounting {
        client,
        period,
        time_zone: zone.to_owned(),
        items,
        total,
        page,
        pages,
    }
}
