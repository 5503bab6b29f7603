//! The period an accounting covers: the From and To the address gives (days of the
//! organisation's zone, both included), or by default everything the ledger still keeps, up to
//! today.

use chrono::{NaiveDate, TimeDelta};

use crate::{error::AppError, exports::scope::DateRange};

/// `from` and `to` (`YYYY-MM-DD`, both or neither), or the `keep_days` up to `today`.
pub fn parse(
    from: Option<&str>,
    to: Option<&str>,
    today: NaiveDate,
    keep_days: u32,
) -> Result<DateRange, AppError> {
    let asked = DateRange::parse(from.unwrap_or_default(), to.unwrap_or_default())?;
    Ok(asked.unwrap_or(DateRange {
        from: today - TimeDelta::days(i64::from(keep_days)),
        to: today,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_period_is_the_retention_up_to_today_and_a_bad_one_is_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let default = parse(None, None, today, 2192).unwrap();
        assert_eq!(
            (default.from.to_string(), default.to),
            ("2020-11-27".to_owned(), today)
        );
        let asked = parse(Some("2026-10-01"), Some("2026-10-31"), today, 2192).unwrap();
        assert_eq!(asked.label(), "1 Oct 2026 – 31 Oct 2026");
        assert!(parse(Some("2026-10-31"), Some("2026-10-01"), today, 2192).is_err());
        assert!(parse(Some("yesterday"), Some("2026-10-01"), today, 2192).is_err());
        assert!(parse(Some("2026-10-01"), None, today, 2192).is_err());
    }
}
