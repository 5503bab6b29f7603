//! One cell of an export, typed, so each encoder can write it as its format expects.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// A cell read from the database (or produced by de-identification).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    /// JSON text, already valid JSON (the audit log's payloads).
    Json(String),
}

impl Value {
    /// The canonical text of a non-text value (`None` for `Null` and text, which encoders
    /// treat themselves): dates `YYYY-MM-DD`, instants RFC 3339 in UTC, booleans `true`/`false`.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Int(int) => Some(int.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Date(date) => Some(date.format("%Y-%m-%d").to_string()),
            Value::Timestamp(at) => Some(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Value::Null | Value::Text(_) | Value::Json(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn scalars_have_one_canonical_text() {
        let at = Utc.with_ymd_and_hms(2024, 2, 29, 13, 5, 0).unwrap();
        assert_eq!(
            Value::Timestamp(at).scalar_text().unwrap(),
            "2024-02-29T13:05:00Z"
        );
        let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(Value::Date(date).scalar_text().unwrap(), "2024-02-29");
        assert_eq!(Value::Int(-7).scalar_text().unwrap(), "-7");
        assert_eq!(Value::Bool(false).scalar_text().unwrap(), "false");
        assert_eq!(Value::Text("x".into()).scalar_text(), None);
    }
}
