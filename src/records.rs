//! The organisation's records that exports read: entity types, their columns, and each column's
//! PHI / PII / general class and HIPAA Safe Harbor rule. The one registry that exports and
//! de-identification use; the migrations create exactly these columns.

use serde::{Deserialize, Serialize};

/// A kind of record an export can contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Clients,
    Appointments,
    Encounters,
    Claims,
    Staff,
    AuditLogs,
}

/// How sensitive a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Protected health information: health data tied to a person.
    Phi,
    /// Personally identifiable information that is not health data (a staff member's phone).
    Pii,
    /// Neither.
    General,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Phi, Class::Pii, Class::General];

    /// As the New Export dialog groups columns.
    pub fn label(self) -> &'static str {
        match self {
            Class::Phi => "Health information (PHI)",
            Class::Pii => "Personal details (PII)",
            Class::General => "General",
        }
    }
}

/// What a column holds, so encoders can write real types (numbers, dates) instead of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Id,
    Text,
    Date,
    Timestamp,
    Integer,
    /// Integer cents, exported as they are stored: an integer number of cents.
    Money,
    Bool,
    Json,
}

/// What a de-identified export does with a column (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deidentify {
    Keep,
    /// A direct identifier: left out of the export entirely.
    Remove,
    /// A date tied to a person: only the year stays.
    Year,
    /// A date of birth: the year, and ages over 89 reported as "90 or older" (no year).
    BirthYear,
    /// A ZIP code: the first three digits, or `000` for sparsely populated areas.
    Zip3,
    /// A record id: replaced by a pseudonym valid only inside one export, so rows still join.
    Pseudonym,
}

/// One column of an entity's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub class: Class,
    pub deidentify: Deidentify,
}

impl Column {
    /// Whether a de-identified export keeps it (changed or not).
    pub fn survives_deidentification(&self) -> bool {
        self.deidentify != Deidentify::Remove
    }
}

const fn col(name: &'static str, kind: Kind, class: Class, deidentify: Deidentify) -> Column {
    Column {
        name,
        kind,
        class,
        deidentify,
    }
}

use Class::{General, Phi, Pii};
use Deidentify::{BirthYear, Keep, Pseudonym, Remove, Year, Zip3};
use Kind::{Bool, Date, Id, Integer, Json, Money, Text, Timestamp};

const CLIENTS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),
    col("medical_record_number", Text, Phi, Remove),
    col("first_name", Text, Phi, Remove),
    col("last_name", Text, Phi, Remove),
    col("date_of_birth", Date, Phi, BirthYear),
    col("sex", Text, Phi, Keep),
    col("email", Text, Phi, Remove),
    col("phone", Text, Phi, Remove),
    col("address_line", Text, Phi, Remove),
    col("city", Text, Phi, Remove),
    col("state", Text, Phi, Keep),
    col("zip_code", Text, Phi, Zip3),
    col("insurance_member_id", Text, Phi, Remove),
    col("primary_diagnosis_code", Text, Phi, Keep),
    col("intake_date", Date, Phi, Year),
    col("status", Text, General, Keep),
];

const APPOINTMENTS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),
    col("client_id", Id, Phi, Pseudonym),
    col("staff_id", Id, Pii, Pseudonym),
    col("starts_at", Timestamp, Phi, Year),
    col("duration_minutes", Integer, General, Keep),
    col("appointment_type", Text, Phi, Keep),
    col("location", Text, General, Keep),
    col("status", Text, General, Keep),
    col("notes", Text, Phi, Remove),
];

const ENCOUNTERS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),
    col("client_id", Id, Phi, Pseudonym),
    col("staff_id", Id, Pii, Pseudonym),
    col("appointment_id", Id, Phi, Pseudonym),
    col("service_date", Date, Phi, Year),
    col("diagnosis_code", Text, Phi, Keep),
    col("procedure_code", Text, Phi, Keep),
    col("duration_minutes", Integer, General, Keep),
    col("note_summary", Text, Phi, Remove),
];

const CLAIMS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),
    col("client_id", Id, Phi, Pseudonym),
    col("encounter_id", Id, Phi, Pseudonym),
    col("claim_number", Text, Phi, Remove),
    col("payer_name", Text, Phi, Keep),
    col("procedure_code", Text, Phi, Keep),
    col("diagnosis_code", Text, Phi, Keep),
    col("submitted_on", Date, Phi, Year),
    col("billed_cents", Money, Phi, Keep),
    col("paid_cents", Money, Phi, Keep),
    col("status", Text, General, Keep),
];

const STAFF: &[Column] = &[
    col("id", Id, Pii, Pseudonym),
    col("employee_number", Text, Pii, Remove),
    col("first_name", Text, Pii, Remove),
    col("last_name", Text, Pii, Remove),
    col("email", Text, Pii, Remove),
    col("phone", Text, Pii, Remove),
    col("job_title", Text, General, Keep),
    col("npi", Text, Pii, Remove),
    col("hired_on", Date, Pii, Year),
    col("active", Bool, General, Keep),
];

const AUDIT_LOGS: &[Column] = &[
    col("id", Integer, General, Keep),
    col("occurred_at", Timestamp, General, Keep),
    col("event", Text, General, Keep),
    col("actor_id", Id, Pii, Pseudonym),
    col("target_type", Text, General, Keep),
    col("target_id", Text, General, Keep),
    col("payload", Json, General, Keep),
];

impl EntityType {
    /// Every entity type, in the order exports list them.
    pub const ALL: [EntityType; 6] = [
        EntityType::Clients,
        EntityType::Appointments,
        EntityType::Encounters,
        EntityType::Claims,
        EntityType::Staff,
        EntityType::AuditLogs,
    ];

    /// The stable key used in the API, the database and file names.
    pub fn key(self) -> &'static str {
        match self {
            EntityType::Clients => "clients",
            EntityType::Appointments => "appointments",
            EntityType::Encounters => "encounters",
            EntityType::Claims => "claims",
            EntityType::Staff => "staff",
            EntityType::AuditLogs => "audit_logs",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            EntityType::Clients => "Clients",
            EntityType::Appointments => "Appointments",
            EntityType::Encounters => "Encounters",
            EntityType::Claims => "Claims",
            EntityType::Staff => "Staff",
            EntityType::AuditLogs => "Audit logs",
        }
    }

    /// The table holding this entity's rows (each has an `organization_id`).
    pub fn table(self) -> &'static str {
        match self {
            EntityType::AuditLogs => "pf_audit_logs",
            other => other.key(),
        }
    }

    /// Its columns, in export order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            EntityType::Clients => CLIENTS,
            EntityType::Appointments => APPOINTMENTS,
            EntityType::Encounters => ENCOUNTERS,
            EntityType::Claims => CLAIMS,
            EntityType::Staff => STAFF,
            EntityType::AuditLogs => AUDIT_LOGS,
        }
    }

    /// The column a date range filters on: when the record happened or began. `None` for a
    /// type that is always exported whole (staff).
    pub fn date_column(self) -> Option<Column> {
        let name = match self {
            EntityType::Clients => "intake_date",
            EntityType::Appointments => "starts_at",
            EntityType::Encounters => "service_date",
            EntityType::Claims => "submitted_on",
            EntityType::AuditLogs => "occurred_at",
            EntityType::Staff => return None,
        };
        self.columns().iter().copied().find(|column| column.name == name)
    }

    /// Parses a key; `None` for anything unknown.
    pub fn from_key(key: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|entity| entity.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_match_serde() {
        for entity in EntityType::ALL {
            assert_eq!(EntityType::from_key(entity.key()), Some(entity));
            assert_eq!(serde_json::to_value(entity).unwrap(), entity.key());
        }
        assert_eq!(EntityType::from_key("patients"), None);
    }

    #[test]
    fn every_entity_starts_with_its_id_and_has_unique_columns() {
        for entity in EntityType::ALL {
            let columns = entity.columns();
            assert_eq!(columns[0].name, "id", "{entity:?}");
            let mut names: Vec<_> = columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), columns.len(), "{entity:?} repeats a column");
        }
    }

    #[test]
    fn date_columns_are_dates_or_instants_of_their_own_entity() {
        for entity in EntityType::ALL {
            match entity.date_column() {
                Some(column) => assert!(
                    matches!(column.kind, Kind::Date | Kind::Timestamp),
                    "{entity:?}.{}",
                    column.name
                ),
                None => assert_eq!(entity, EntityType::Staff),
            }
        }
        assert_eq!(EntityType::Appointments.date_column().unwrap().name, "starts_at");
    }

    #[test]
    fn direct_identifiers_never_survive_de_identification() {
        const DIRECT_IDENTIFIERS: &[&str] = &[
            "first_name",
            "last_name",
            "email",
            "phone",
            "address_line",
            "city",
            "medical_record_number",
            "insurance_member_id",
            "claim_number",
            "employee_number",
            "npi",
            "notes",
            "note_summary",
        ];
        // The audit trail is not patient data and is never part of a de-identified dataset.
        for entity in EntityType::ALL
            .into_iter()
            .filter(|e| *e != EntityType::AuditLogs)
        {
            for column in entity.columns() {
                if DIRECT_IDENTIFIERS.contains(&column.name) {
                    assert_eq!(
                        column.deidentify,
                        Deidentify::Remove,
                        "{entity:?}.{}",
                        column.name
                    );
                }
                if column.kind == Kind::Date || column.kind == Kind::Timestamp {
                    assert_ne!(column.deidentify, Deidentify::Keep, "{entity:?}.{}", column.name);
                }
            }
        }
    }

    #[test]
    fn no_column_that_identifies_a_person_survives_de_identification_as_it_is() {
        for entity in EntityType::ALL {
            for column in entity.columns() {
                if column.class == Class::Pii {
                    assert_ne!(column.deidentify, Deidentify::Keep, "{entity:?}.{}", column.name);
                }
            }
        }
    }
}
