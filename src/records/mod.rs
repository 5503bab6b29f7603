//! The organisation's records that exports read: entity types, their columns, and each column's
//! PHI / PII / general class and HIPAA Safe Harbor rule. The one registry that exports and
//! de-identification use; the migrations create exactly these columns.
//!
//! The Safe Harbor rules were reviewed column by column against the 18 identifiers of 45 CFR
//! 164.514(b)(2)(i) (A names; B geographic subdivisions smaller than a state; C dates but the
//! year, ages over 89; D–F telephone, fax, email; G SSN; H medical record numbers; I health plan
//! beneficiary numbers; J account numbers; K certificate or licence numbers; L vehicle and M
//! device identifiers; N URLs; O IP addresses; P biometrics; Q photographs; R any other unique
//! identifying number, characteristic or code); each decision is written beside its column. A
//! text column is never kept as it is: it is removed, or held to a controlled vocabulary
//! (`vocabulary`), so that free text typed into it cannot carry an identifier into the file.

pub mod vocabulary;

use serde::{Deserialize, Serialize};
pub use vocabulary::Vocabulary;

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

    /// As the ledger of disclosures stores it.
    pub fn key(self) -> &'static str {
        match self {
            Class::Phi => "phi",
            Class::Pii => "pii",
            Class::General => "general",
        }
    }

    pub fn from_key(key: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.key() == key)
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
    /// Text held to a controlled vocabulary: a listed term in the list's spelling; anything else
    /// becomes the vocabulary's "other" term or is withheld.
    Vocabulary(Vocabulary),
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
    /// A column of the app's own tables (not an organisation's records), read by the engine:
    /// general, and never in an export.
    pub const fn internal(name: &'static str, kind: Kind) -> Column {
        Column {
            name,
            kind,
            class: Class::General,
            deidentify: Deidentify::Remove,
        }
    }

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
use Vocabulary as V;

/// Held to vocabulary `v`.
const fn vocabulary(v: Vocabulary) -> Deidentify {
    Deidentify::Vocabulary(v)
}

// Beside each column: its Safe Harbor decision (letters name the identifiers above).
const CLIENTS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),                   // R: the record's own number
    col("medical_record_number", Text, Phi, Remove), // H
    col("first_name", Text, Phi, Remove),            // A
    col("last_name", Text, Phi, Remove),             // A
    col("date_of_birth", Date, Phi, BirthYear),      // C: year; any year of a 90+ age: "90+"
    col("sex", Text, Phi, vocabulary(V::Sex)),       // not an identifier; F/M/X/U only
    col("email", Text, Phi, Remove),                 // F
    col("phone", Text, Phi, Remove),                 // D
    col("address_line", Text, Phi, Remove),          // B
    col("city", Text, Phi, Remove),                  // B
    col("state", Text, Phi, vocabulary(V::UsState)), // B allows the state; USPS codes only
    col("zip_code", Text, Phi, Zip3),                // B: 3 digits, 000 where ≤ 20,000 people
    col("insurance_member_id", Text, Phi, Remove),   // I
    col("primary_diagnosis_code", Text, Phi, vocabulary(V::Icd10Cm)), // clinical code, not an identifier
    col("intake_date", Date, Phi, Year),             // C
    col("status", Text, General, vocabulary(V::ClientStatus)),
];

const APPOINTMENTS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),                   // R
    col("client_id", Id, Phi, Pseudonym),            // R
    col("staff_id", Id, Pii, Pseudonym),             // R
    col("starts_at", Timestamp, Phi, Year),          // C
    col("duration_minutes", Integer, General, Keep), // a number of minutes
    col("appointment_type", Text, Phi, vocabulary(V::AppointmentType)),
    col("location", Text, General, Remove), // B: a site's name places the client in a town
    col("status", Text, General, vocabulary(V::AppointmentStatus)),
    col("notes", Text, Phi, Remove), // free text: may hold any of A–R
];

const ENCOUNTERS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),             // R
    col("client_id", Id, Phi, Pseudonym),      // R
    col("staff_id", Id, Pii, Pseudonym),       // R
    col("appointment_id", Id, Phi, Pseudonym), // R
    col("service_date", Date, Phi, Year),      // C
    col("diagnosis_code", Text, Phi, vocabulary(V::Icd10Cm)),
    col("procedure_code", Text, Phi, vocabulary(V::Procedure)),
    col("duration_minutes", Integer, General, Keep),
    col("note_summary", Text, Phi, Remove), // free text
];

const CLAIMS: &[Column] = &[
    col("id", Id, Phi, Pseudonym),                      // R
    col("client_id", Id, Phi, Pseudonym),               // R
    col("encounter_id", Id, Phi, Pseudonym),            // R
    col("claim_number", Text, Phi, Remove),             // J
    col("payer_name", Text, Phi, vocabulary(V::Payer)), // an employer's own plan would name the employer
    col("procedure_code", Text, Phi, vocabulary(V::Procedure)),
    col("diagnosis_code", Text, Phi, vocabulary(V::Icd10Cm)),
    col("submitted_on", Date, Phi, Year),  // C
    col("billed_cents", Money, Phi, Keep), // amounts, not identifiers
    col("paid_cents", Money, Phi, Keep),
    col("status", Text, General, vocabulary(V::ClaimStatus)),
];

const STAFF: &[Column] = &[
    col("id", Id, Pii, Pseudonym),                            // R
    col("employee_number", Text, Pii, Remove),                // R
    col("first_name", Text, Pii, Remove),                     // A
    col("last_name", Text, Pii, Remove),                      // A
    col("email", Text, Pii, Remove),                          // F
    col("phone", Text, Pii, Remove),                          // D
    col("job_title", Text, General, vocabulary(V::JobTitle)), // a title of one's own names its holder
    col("npi", Text, Pii, Remove),                            // K: a licence-like provider number
    col("hired_on", Date, Pii, Year),                         // C
    col("active", Bool, General, Keep),
];

// The audit trail is never part of a de-identified dataset (the catalog offers it only to the
// audit-trail export, identified): were it ever offered, nothing of it would survive.
const AUDIT_LOGS: &[Column] = &[
    col("id", Integer, General, Remove), // the organisation's own entry number (`org_seq`)
    col("occurred_at", Timestamp, General, Remove),
    col("event", Text, General, Remove),
    col("actor_id", Id, Pii, Remove),
    col("target_type", Text, General, Remove),
    col("target_id", Text, General, Remove),
    col("payload", Json, General, Remove), // ids, counts and settings, but free-form
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

    /// The column an export reads and writes as the rows' `id`, in whose order it reads them:
    /// the record's own id, or, for the audit log, the organisation's own entry number
    /// (`org_seq`: 1, 2, 3…), since the global sequence's gaps would reveal how busy other
    /// organisations are.
    pub fn key_column(self) -> &'static str {
        match self {
            EntityType::AuditLogs => "org_seq",
            _ => "id",
        }
    }

    /// The column naming the client a row belongs to (a client's own `id`): what makes a client
    /// "in" an export for the ledger of disclosures. `None` for rows of no client (staff, the
    /// audit log).
    pub fn client_column(self) -> Option<Column> {
        let name = match self {
            EntityType::Clients => "id",
            EntityType::Appointments | EntityType::Encounters | EntityType::Claims => "client_id",
            EntityType::Staff | EntityType::AuditLogs => return None,
        };
        self.columns().iter().copied().find(|column| column.name == name)
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
    fn no_text_survives_de_identification_unless_held_to_a_vocabulary() {
        for entity in EntityType::ALL {
            for column in entity.columns() {
                if matches!(column.kind, Kind::Text | Kind::Json) {
                    assert!(
                        matches!(
                            column.deidentify,
                            Deidentify::Remove | Deidentify::Zip3 | Deidentify::Vocabulary(_)
                        ),
                        "{entity:?}.{} is free text kept as it is",
                        column.name
                    );
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
