//! HIPAA Safe Harbor de-identification (45 CFR 164.514(b)(2)), column by column, as
//! `records.rs` classifies them: identifiers dropped, dates cut to the year, ages over 89
//! grouped as "90+", ZIP codes cut to three digits, text held to controlled vocabularies, record
//! ids replaced by pseudonyms that hold only inside one export (so rows still join, but never
//! across exports).

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{
    engine::value::Value,
    records::{Column, Deidentify, vocabulary::Outside},
};

/// Three-digit ZIP prefixes whose areas hold 20,000 people or fewer (Census 2000, as HHS lists
/// them): reported as `000`.
pub const RESTRICTED_ZIP3: &[&str] = &[
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884",
    "890", "893",
];

/// What an age of 90 or more is reported as, instead of a birth year.
pub const AGE_90_OR_OLDER: &str = "90+";

/// De-identifies rows for one export.
pub struct Deidentifier {
    key: [u8; 32],
    today: NaiveDate,
}

impl Deidentifier {
    /// `key` keys the pseudonyms (a fresh random key per export); ages are as of `today`.
    pub fn new(key: [u8; 32], today: NaiveDate) -> Self {
        Deidentifier { key, today }
    }

    /// Applies each column's rule to `row` (laid out as [`columns`]).
    pub fn apply(&self, columns: &[Column], row: &mut [Value]) {
        for (column, value) in columns.iter().zip(row.iter_mut()) {
            let taken = std::mem::replace(value, Value::Null);
            *value = self.value(column.deidentify, taken);
        }
    }

    fn value(&self, rule: Deidentify, value: Value) -> Value {
        match (rule, value) {
            (_, Value::Null) | (Deidentify::Remove, _) => Value::Null,
            (Deidentify::Keep, value) => value,
            (Deidentify::Year, Value::Date(date)) => Value::Int(i64::from(date.year())),
            (Deidentify::Year, Value::Timestamp(at)) => Value::Int(i64::from(at.year())),
            // Any year that could be the birth year of someone 90 or older today (born on its
            // first day): the year itself would say the age is over 89.
            (Deidentify::BirthYear, Value::Date(born)) if self.today.year() - born.year() >= 90 => {
                Value::Text(AGE_90_OR_OLDER.into())
            }
            (Deidentify::BirthYear, Value::Date(born)) => Value::Int(i64::from(born.year())),
            (Deidentify::Zip3, Value::Text(zip)) => zip3(&zip).map_or(Value::Null, Value::Text),
            (Deidentify::Pseudonym, Value::Text(id)) => Value::Text(self.pseudonym(&id)),
            (Deidentify::Vocabulary(vocabulary), Value::Text(text)) => match vocabulary.term(&text) {
                Some(term) => Value::Text(term),
                None => match vocabulary.outside() {
                    Outside::Term(other) => Value::Text(other.to_owned()),
                    Outside::Withheld => Value::Null,
                },
            },
            // A rule applied to a value it does not fit: withhold rather than guess.
            (_, _) => Value::Null,
        }
    }

    /// 128 bits of HMAC-SHA256(key, id) in hex: the same id gives the same pseudonym throughout
    /// one export, and nothing links it to the id without the key (discarded after the export).
    fn pseudonym(&self, id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// The first three digits of a US ZIP code (`12345` or `12345-6789`), `000` for restricted
/// areas; `None` for anything that is not a ZIP code.
fn zip3(zip: &str) -> Option<String> {
    let zip = zip.trim();
    let five = zip.get(..5)?;
    let well_formed = five.bytes().all(|b| b.is_ascii_digit())
        && (zip.len() == 5
            || (zip.len() == 10
                && zip.as_bytes()[5] == b'-'
                && zip[6..].bytes().all(|b| b.is_ascii_digit())));
    if !well_formed {
        return None;
    }
    let prefix = &zip[..3];
    Some(if RESTRICTED_ZIP3.contains(&prefix) {
        "000".into()
    } else {
        prefix.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Class, Kind};
    use chrono::{TimeZone, Utc};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn deidentifier() -> Deidentifier {
        Deidentifier::new([7; 32], today())
    }

    #[test]
    fn zip_codes_keep_three_digits_and_restricted_areas_become_000() {
        assert_eq!(zip3("02139").as_deref(), Some("021"));
        assert_eq!(zip3("02139-4307").as_deref(), Some("021"));
        for restricted in RESTRICTED_ZIP3 {
            assert_eq!(zip3(&format!("{restricted}42")).as_deref(), Some("000"));
        }
        for junk in ["", "0213", "021394", "ABCDE", "02139-43", "0213é"] {
            assert_eq!(zip3(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn birth_years_that_could_be_90_or_older_are_grouped() {
        let d = deidentifier(); // today: 26 Nov 2026
        let born = |y, m, day| Value::Date(NaiveDate::from_ymd_opt(y, m, day).unwrap());
        let over_89 = Value::Text(AGE_90_OR_OLDER.into());
        // Born on 31 Dec 1936, still 89: but someone born in 1936 may be 90 already, so the year
        // alone would tell whoever knows it that this client may be over 89.
        assert_eq!(d.value(Deidentify::BirthYear, born(1936, 12, 31)), over_89);
        assert_eq!(d.value(Deidentify::BirthYear, born(1936, 11, 27)), over_89);
        assert_eq!(d.value(Deidentify::BirthYear, born(1936, 1, 1)), over_89);
        // Nobody born in 1937 is 90 before 1 Jan 2027.
        assert_eq!(d.value(Deidentify::BirthYear, born(1937, 1, 1)), Value::Int(1937));
        let next_year = Deidentifier::new([7; 32], NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(
            next_year.value(Deidentify::BirthYear, born(1937, 12, 31)),
            over_89
        );
        assert_eq!(d.value(Deidentify::BirthYear, born(1901, 1, 1)), over_89);
        assert_eq!(d.value(Deidentify::BirthYear, born(1990, 6, 1)), Value::Int(1990));
    }

    #[test]
    fn dates_and_instants_keep_only_the_year() {
        let d = deidentifier();
        let date = Value::Date(NaiveDate::from_ymd_opt(2024, 3, 9).unwrap());
        let at = Value::Timestamp(Utc.with_ymd_and_hms(2023, 12, 31, 23, 59, 59).unwrap());
        assert_eq!(d.value(Deidentify::Year, date), Value::Int(2024));
        assert_eq!(d.value(Deidentify::Year, at), Value::Int(2023));
    }

    #[test]
    fn pseudonyms_are_stable_within_an_export_and_differ_across_exports() {
        let id = "6f1c1f9e-9f0e-4c36-9d4e-6a1e0e1a8f10";
        let one = Deidentifier::new([1; 32], today());
        let other = Deidentifier::new([2; 32], today());
        let a = one.value(Deidentify::Pseudonym, Value::Text(id.into()));
        assert_eq!(a, one.value(Deidentify::Pseudonym, Value::Text(id.into())));
        assert_ne!(a, other.value(Deidentify::Pseudonym, Value::Text(id.into())));
        let Value::Text(text) = a else { panic!("{a:?}") };
        assert_eq!(text.len(), 32);
        assert!(!text.contains(&id[..8]));
    }

    #[test]
    fn text_outside_its_vocabulary_never_survives() {
        use crate::records::Vocabulary;
        let d = deidentifier();
        let text = |t: &str| Value::Text(t.into());
        let free_text = "Seen by Dr Jane Roe at 12 Main St, call 555-0100";
        for vocabulary in Vocabulary::ALL {
            let out = d.value(Deidentify::Vocabulary(vocabulary), text(free_text));
            match vocabulary.outside() {
                Outside::Term(other) => assert_eq!(out, text(other), "{vocabulary:?}"),
                Outside::Withheld => assert_eq!(out, Value::Null, "{vocabulary:?}"),
            }
        }
        let payer = Deidentify::Vocabulary(Vocabulary::Payer);
        assert_eq!(d.value(payer, text("MEDICAID ")), text("Medicaid"));
        assert_eq!(d.value(payer, text("Acme Corp Employee Plan")), text("Other"));
        let code = Deidentify::Vocabulary(Vocabulary::Icd10Cm);
        assert_eq!(d.value(code, text("f32.1")), text("F32.1"));
    }

    #[test]
    fn removed_and_mismatched_values_are_withheld() {
        let d = deidentifier();
        assert_eq!(
            d.value(Deidentify::Remove, Value::Text("Jane".into())),
            Value::Null
        );
        assert_eq!(
            d.value(Deidentify::Year, Value::Text("2024-01-01".into())),
            Value::Null
        );
        let mut row = vec![Value::Text("x".into())];
        let column = Column {
            name: "zip_code",
            kind: Kind::Text,
            class: Class::Phi,
            deidentify: Deidentify::Zip3,
        };
        d.apply(&[column], &mut row);
        assert_eq!(row, vec![Value::Null]);
    }
}
