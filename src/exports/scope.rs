//! An export's scope, as client and server share it: the dates it covers (calendar days in the
//! organisation's time zone), the presets the dialog offers, and why and for whom it is made.

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The earliest and latest dates a range may name.
pub const FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
pub const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2100, 12, 31).expect("valid date");

/// Characters a recipient or a purpose's own text may hold.
pub const MAX_TEXT_CHARS: usize = 200;

/// The calendar days an export covers, both inclusive, in the organisation's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// Checks the dialog's From and To (`YYYY-MM-DD`, both or neither): `None` is all time.
    /// Errors name the field at fault.
    pub fn parse(from: &str, to: &str) -> Result<Option<DateRange>, AppError> {
        let date = |field: &str, text: &str| {
            let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| AppError::validation(field, "Enter a date as YYYY-MM-DD."))?;
            if !(FIRST_DATE..=LAST_DATE).contains(&date) {
                return Err(AppError::validation(
                    field,
                    "Choose a date between 1900 and 2100.",
                ));
            }
            Ok(date)
        };
        match (from.trim().is_empty(), to.trim().is_empty()) {
            (true, true) => Ok(None),
            (false, true) => Err(AppError::validation(
                "date_to",
                "Enter the last day too, or clear both dates for all time.",
            )),
            (true, false) => Err(AppError::validation(
                "date_from",
                "Enter the first day too, or clear both dates for all time.",
            )),
            (false, false) => {
                let range = DateRange {
                    from: date("date_from", from)?,
                    to: date("date_to", to)?,
                };
                if range.from > range.to {
                    return Err(AppError::validation(
                        "date_to",
                        "The last day comes before the first.",
                    ));
                }
                Ok(Some(range))
            }
        }
    }

    /// As people read it: "1 Oct 2026 – 31 Oct 2026".
    pub fn label(&self) -> String {
        format!(
            "{} – {}",
            self.from.format("%-d %b %Y"),
            self.to.format("%-d %b %Y")
        )
    }

    /// As a file name holds it: "2026-10-01-to-2026-10-31".
    pub fn file_part(&self) -> String {
        format!(
            "{}-to-{}",
            self.from.format("%Y-%m-%d"),
            self.to.format("%Y-%m-%d")
        )
    }

    /// The day after the last: the range is `[from, until)`.
    pub fn until(&self) -> NaiveDate {
        self.to + TimeDelta::days(1)
    }

    /// The range as instants in `zone`: from the first day's start to the start of the day after
    /// the last.
    #[cfg(feature = "ssr")]
    pub fn instants(
        &self,
        zone: chrono_tz::Tz,
    ) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        (day_start(zone, self.from), day_start(zone, self.until()))
    }
}

/// The first instant of `date` in `zone`: its midnight, or, where a daylight-saving gap swallows
/// midnight, the end of the gap.
#[cfg(feature = "ssr")]
pub fn day_start(zone: chrono_tz::Tz, date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::{NaiveTime, TimeZone};

    let mut local = date.and_time(NaiveTime::MIN);
    loop {
        if let Some(start) = zone.from_local_datetime(&local).earliest() {
            return start.with_timezone(&chrono::Utc);
        }
        local += TimeDelta::minutes(15);
    }
}

/// The dialog's shortcuts for a date range, relative to today in the organisation's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Last7Days,
    Last30Days,
    LastCalendarMonth,
    ThisYear,
    AllTime,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::AllTime,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::LastCalendarMonth,
        Preset::ThisYear,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Preset::Last7Days => "last_7_days",
            Preset::Last30Days => "last_30_days",
            Preset::LastCalendarMonth => "last_calendar_month",
            Preset::ThisYear => "this_year",
            Preset::AllTime => "all_time",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::LastCalendarMonth => "Last calendar month",
            Preset::ThisYear => "This year",
            Preset::AllTime => "All time",
        }
    }

    /// The range it stands for when today is `today`; `None` for all time.
    pub fn range(self, today: NaiveDate) -> Option<DateRange> {
        let days_back = |days: i64| DateRange {
            from: today - TimeDelta::days(days - 1),
            to: today,
        };
        match self {
            Preset::Last7Days => Some(days_back(7)),
            Preset::Last30Days => Some(days_back(30)),
            Preset::LastCalendarMonth => {
                let first_of_this_month = today.with_day(1).expect("day 1 exists");
                let to = first_of_this_month - TimeDelta::days(1);
                Some(DateRange {
                    from: to.with_day(1).expect("day 1 exists"),
                    to,
                })
            }
            Preset::ThisYear => Some(DateRange {
                from: NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("1 January exists"),
                to: today,
            }),
            Preset::AllTime => None,
        }
    }
}

/// Why an export is made (45 CFR 164.528(b)(2)(iv): the purpose of a disclosure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Treatment,
    Payment,
    HealthCareOperations,
    ClientRequest,
    RequiredByLaw,
    HealthOversight,
    BackupOrMigration,
    Other,
}

impl Purpose {
    pub const ALL: [Purpose; 8] = [
        Purpose::Treatment,
        Purpose::Payment,
        Purpose::HealthCareOperations,
        Purpose::ClientRequest,
        Purpose::RequiredByLaw,
        Purpose::HealthOversight,
        Purpose::BackupOrMigration,
        Purpose::Other,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Purpose::Treatment => "treatment",
            Purpose::Payment => "payment",
            Purpose::HealthCareOperations => "health_care_operations",
            Purpose::ClientRequest => "client_request",
            Purpose::RequiredByLaw => "required_by_law",
            Purpose::HealthOversight => "health_oversight",
            Purpose::BackupOrMigration => "backup_or_migration",
            Purpose::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Purpose::Treatment => "Treatment",
            Purpose::Payment => "Payment",
            Purpose::HealthCareOperations => "Health care operations",
            Purpose::ClientRequest => "The client's own request",
            Purpose::RequiredByLaw => "Required by law or court order",
            Purpose::HealthOversight => "Health oversight or audit",
            Purpose::BackupOrMigration => "Backup or migration",
            Purpose::Other => "Other",
        }
    }

    pub fn from_key(key: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|purpose| purpose.key() == key)
    }
}

/// Why and for whom an export holding identified data is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    pub purpose: Purpose,
    /// What "other" means, in the requester's words; `None` for the listed purposes.
    pub purpose_detail: Option<String>,
    /// Who receives it: "internal: finance team", or the outside party's name.
    pub recipient: String,
}

impl Disclosure {
    /// Checks the dialog's purpose, its own text and the recipient. `None` when nothing was
    /// given and `required` is false; errors name the field at fault.
    pub fn parse(
        purpose: &str,
        detail: &str,
        recipient: &str,
        required: bool,
    ) -> Result<Option<Disclosure>, AppError> {
        let (purpose, detail, recipient) = (purpose.trim(), detail.trim(), recipient.trim());
        if !required && purpose.is_empty() && detail.is_empty() && recipient.is_empty() {
            return Ok(None);
        }
        let purpose = match purpose {
            "" => {
                return Err(AppError::validation(
                    "purpose",
                    "Choose the purpose of this export: it holds identified health information.",
                ));
            }
            key => Purpose::from_key(key)
                .ok_or_else(|| AppError::validation("purpose", "Choose a purpose from the list."))?,
        };
        let purpose_detail = match purpose {
            Purpose::Other => Some(text("purpose_detail", detail, "Say what the purpose is.")?),
            _ if !detail.is_empty() => {
                return Err(AppError::validation(
                    "purpose_detail",
                    "Describe the purpose only when it is \"Other\".",
                ));
            }
            _ => None,
        };
        let recipient = text(
            "recipient",
            recipient,
            "Say who receives this export (for example \"internal: finance team\").",
        )?;
        Ok(Some(Disclosure {
            purpose,
            purpose_detail,
            recipient,
        }))
    }

    /// The purpose as people read it: the listed label, or the requester's own words.
    pub fn purpose_label(&self) -> String {
        match (&self.purpose, &self.purpose_detail) {
            (Purpose::Other, Some(detail)) => format!("Other: {detail}"),
            (purpose, _) => purpose.label().to_owned(),
        }
    }
}

/// A required line of text: 1–200 characters, no control characters.
fn text(field: &str, value: &str, missing: &str) -> Result<String, AppError> {
    if value.is_empty() {
        return Err(AppError::validation(field, missing));
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::validation(
            field,
            format!("Keep it to {MAX_TEXT_CHARS} characters."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::validation(field, "Use one line of plain text."));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn field<T: std::fmt::Debug>(result: Result<T, AppError>) -> String {
        match result {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_range_is_both_dates_or_neither_in_order_and_within_bounds() {
        assert_eq!(DateRange::parse("", " ").unwrap(), None);
        let october = DateRange::parse("2026-10-01", " 2026-10-31 ").unwrap().unwrap();
        assert_eq!(
            (october.from, october.until()),
            (day("2026-10-01"), day("2026-11-01"))
        );
        assert_eq!(october.label(), "1 Oct 2026 – 31 Oct 2026");
        assert_eq!(october.file_part(), "2026-10-01-to-2026-10-31");
        assert!(DateRange::parse("2026-10-31", "2026-10-31").unwrap().is_some());
        assert_eq!(field(DateRange::parse("2026-10-02", "2026-10-01")), "date_to");
        assert_eq!(field(DateRange::parse("2026-10-01", "")), "date_to");
        assert_eq!(field(DateRange::parse("", "2026-10-01")), "date_from");
        assert_eq!(field(DateRange::parse("1899-12-31", "2026-10-01")), "date_from");
        assert_eq!(field(DateRange::parse("2026-10-01", "2101-01-01")), "date_to");
        assert_eq!(field(DateRange::parse("01/10/2026", "2026-10-31")), "date_from");
        assert_eq!(field(DateRange::parse("2026-02-30", "2026-10-31")), "date_from");
    }

    #[test]
    fn presets_count_back_from_today() {
        let today = day("2026-03-15");
        let range = |preset: Preset| preset.range(today).map(|r| (r.from, r.to));
        assert_eq!(range(Preset::Last7Days), Some((day("2026-03-09"), today)));
        assert_eq!(range(Preset::Last30Days), Some((day("2026-02-14"), today)));
        assert_eq!(
            range(Preset::LastCalendarMonth),
            Some((day("2026-02-01"), day("2026-02-28")))
        );
        assert_eq!(range(Preset::ThisYear), Some((day("2026-01-01"), today)));
        assert_eq!(range(Preset::AllTime), None);
        // January's last calendar month is last year's December.
        assert_eq!(
            Preset::LastCalendarMonth
                .range(day("2027-01-01"))
                .map(|r| (r.from, r.to)),
            Some((day("2026-12-01"), day("2026-12-31")))
        );
    }

    #[test]
    fn a_disclosure_needs_a_listed_purpose_and_a_recipient() {
        let valid = Disclosure::parse("payment", "", " internal: finance team ", true)
            .unwrap()
            .unwrap();
        assert_eq!(valid.purpose, Purpose::Payment);
        assert_eq!(valid.recipient, "internal: finance team");
        assert_eq!(valid.purpose_label(), "Payment");
        let other = Disclosure::parse("other", "state registry", "Registry", true)
            .unwrap()
            .unwrap();
        assert_eq!(other.purpose_label(), "Other: state registry");
        assert_eq!(Disclosure::parse("", "", "", false).unwrap(), None);

        assert_eq!(field(Disclosure::parse("", "", "x", true)), "purpose");
        assert_eq!(field(Disclosure::parse("marketing", "", "x", true)), "purpose");
        assert_eq!(field(Disclosure::parse("other", "", "x", true)), "purpose_detail");
        assert_eq!(
            field(Disclosure::parse("payment", "why", "x", true)),
            "purpose_detail"
        );
        assert_eq!(field(Disclosure::parse("payment", "", " ", true)), "recipient");
        assert_eq!(
            field(Disclosure::parse("payment", "", &"x".repeat(201), true)),
            "recipient"
        );
        assert!(Disclosure::parse("payment", "", &"é".repeat(200), true).is_ok());
        assert_eq!(field(Disclosure::parse("payment", "", "a\nb", true)), "recipient");
        // Given for an export that does not need it, it is still checked.
        assert_eq!(field(Disclosure::parse("payment", "", "", false)), "recipient");
    }

    #[test]
    fn purpose_keys_round_trip_and_match_serde() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::from_key(purpose.key()), Some(purpose));
            assert_eq!(serde_json::to_value(purpose).unwrap(), purpose.key());
        }
    }
}
