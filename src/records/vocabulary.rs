//! The controlled vocabularies a de-identified export keeps text columns to: a value that is
//! not one of a vocabulary's terms (or not a code of its system) never reaches the file as
//! written — free text typed into a "type" or "title" field could name a person or a place.

/// A column's allowed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// Sex as recorded: F, M, X (non-binary) or U (unknown).
    Sex,
    /// A US state, DC or territory, as its USPS code (Safe Harbor keeps the state).
    UsState,
    /// An ICD-10-CM diagnosis code (letter, two characters, optional dot and up to four more).
    Icd10Cm,
    /// A CPT or HCPCS Level II procedure code (five characters).
    Procedure,
    ClientStatus,
    AppointmentType,
    AppointmentStatus,
    ClaimStatus,
    /// National payers and public programmes; any other payer (an employer's own plan names the
    /// employer) is "Other".
    Payer,
    /// Clinical and front-office roles; a title of one's own ("Chief of Psychiatry") names its
    /// holder and is "Other".
    JobTitle,
}

/// What a value outside a vocabulary becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// Withheld (a code that is not a code tells nothing worth keeping).
    Withheld,
    /// This term: there was a value, but not one of the list's.
    Term(&'static str),
}

const SEXES: &[&str] = &["F", "M", "X", "U"];
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
    "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    "AS", "GU", "MP", "PR", "VI",
];
const CLIENT_STATUSES: &[&str] = &["active", "inactive", "discharged", "waitlist"];
const APPOINTMENT_TYPES: &[&str] = &[
    "intake",
    "assessment",
    "therapy",
    "individual therapy",
    "group therapy",
    "family therapy",
    "couples therapy",
    "medication management",
    "crisis intervention",
    "case management",
];
const APPOINTMENT_STATUSES: &[&str] = &["scheduled", "completed", "cancelled", "no_show"];
const CLAIM_STATUSES: &[&str] = &["pending", "submitted", "paid", "denied"];
const PAYERS: &[&str] = &[
    "Aetna",
    "Anthem",
    "Blue Cross",
    "Blue Shield",
    "Blue Cross Blue Shield",
    "Cigna",
    "Humana",
    "Kaiser Permanente",
    "UnitedHealthcare",
    "Medicaid",
    "Medicare",
    "Tricare",
    "Self-pay",
];
const JOB_TITLES: &[&str] = &[
    "Psychiatrist",
    "Psychologist",
    "Therapist",
    "Licensed Clinical Social Worker",
    "Licensed Professional Counselor",
    "Counselor",
    "Nurse Practitioner",
    "Registered Nurse",
    "Case Manager",
    "Peer Support Specialist",
    "Front Desk",
    "Billing Specialist",
];

impl Vocabulary {
    /// Every vocabulary, for tests.
    pub const ALL: [Vocabulary; 10] = [
        Vocabulary::Sex,
        Vocabulary::UsState,
        Vocabulary::Icd10Cm,
        Vocabulary::Procedure,
        Vocabulary::ClientStatus,
        Vocabulary::AppointmentType,
        Vocabulary::AppointmentStatus,
        Vocabulary::ClaimStatus,
        Vocabulary::Payer,
        Vocabulary::JobTitle,
    ];

    /// The listed terms (`None` for a code system, which is a pattern).
    pub fn terms(self) -> Option<&'static [&'static str]> {
        Some(match self {
            Vocabulary::Sex => SEXES,
            Vocabulary::UsState => US_STATES,
            Vocabulary::ClientStatus => CLIENT_STATUSES,
            Vocabulary::AppointmentType => APPOINTMENT_TYPES,
            Vocabulary::AppointmentStatus => APPOINTMENT_STATUSES,
            Vocabulary::ClaimStatus => CLAIM_STATUSES,
            Vocabulary::Payer => PAYERS,
            Vocabulary::JobTitle => JOB_TITLES,
            Vocabulary::Icd10Cm | Vocabulary::Procedure => return None,
        })
    }

    /// What a value outside the vocabulary becomes.
    pub fn outside(self) -> Outside {
        match self {
            Vocabulary::Sex | Vocabulary::UsState | Vocabulary::Icd10Cm | Vocabulary::Procedure => {
                Outside::Withheld
            }
            Vocabulary::Payer | Vocabulary::JobTitle => Outside::Term("Other"),
            _ => Outside::Term("other"),
        }
    }

    /// `value` as the vocabulary writes it (a listed term matched ignoring case and surrounding
    /// space, in the list's spelling; a well-formed code in capitals), or `None` when it is
    /// not in the vocabulary.
    pub fn term(self, value: &str) -> Option<String> {
        let value = value.trim();
        match self.terms() {
            Some(terms) => terms
                .iter()
                .find(|term| term.eq_ignore_ascii_case(value))
                .map(|term| (*term).to_owned()),
            None => {
                let code = value.to_ascii_uppercase();
                let valid = match self {
                    Vocabulary::Icd10Cm => is_icd10cm(&code),
                    _ => is_procedure(&code),
                };
                valid.then_some(code)
            }
        }
    }
}

/// `F32.1`, `F43.10`, `Z00.00`, `F32`: a letter, a digit, a digit or letter, then optionally a
/// dot and one to four digits or letters.
fn is_icd10cm(code: &str) -> bool {
    let bytes = code.as_bytes();
    let head = bytes.len() >= 3
        && bytes[0].is_ascii_uppercase()
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_alphanumeric();
    match (head, &bytes.get(3..)) {
        (true, Some([])) => true,
        (true, Some([b'.', rest @ ..])) => {
            (1..=4).contains(&rest.len()) && rest.iter().all(u8::is_ascii_alphanumeric)
        }
        _ => false,
    }
}

/// `90834` (CPT), `1234F` / `0001T` (CPT categories II and III), `G0176` (HCPCS Level II).
fn is_procedure(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 5
        && (bytes.iter().all(u8::is_ascii_digit)
            || (bytes[..4].iter().all(u8::is_ascii_digit) && matches!(bytes[4], b'F' | b'T' | b'U'))
            || (bytes[0].is_ascii_uppercase() && bytes[1..].iter().all(u8::is_ascii_digit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_terms_match_ignoring_case_and_come_out_in_the_lists_spelling() {
        assert_eq!(
            Vocabulary::AppointmentType
                .term(" Individual THERAPY ")
                .as_deref(),
            Some("individual therapy")
        );
        assert_eq!(Vocabulary::Payer.term("medicaid").as_deref(), Some("Medicaid"));
        assert_eq!(Vocabulary::UsState.term("nh").as_deref(), Some("NH"));
        assert_eq!(Vocabulary::Payer.term("Blue Shield, Inc."), None);
        assert_eq!(Vocabulary::JobTitle.term("Therapist, LCSW"), None);
        assert_eq!(Vocabulary::UsState.term("Springfield"), None);
    }

    #[test]
    fn codes_must_be_well_formed() {
        for good in ["F32.1", "F43.10", "Z00.00", "F32", "f90.0", "T74.11XA"] {
            assert!(Vocabulary::Icd10Cm.term(good).is_some(), "{good}");
        }
        for bad in ["", "F3", "32.1", "F32.", "F32.12345", "F32.1 Jane", "Jane Doe"] {
            assert_eq!(Vocabulary::Icd10Cm.term(bad), None, "{bad}");
        }
        for good in ["90834", "99214", "1234F", "0001T", "G0176"] {
            assert!(Vocabulary::Procedure.term(good).is_some(), "{good}");
        }
        for bad in ["9083", "908345", "ABCDE", "90834 x", "555-1234"] {
            assert_eq!(Vocabulary::Procedure.term(bad), None, "{bad}");
        }
    }

    #[test]
    fn no_listed_term_can_hold_a_name_a_number_or_an_address() {
        for vocabulary in Vocabulary::ALL {
            for term in vocabulary.terms().unwrap_or_default() {
                assert!(
                    term.chars()
                        .all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '-' || c == '_'),
                    "{vocabulary:?}: {term:?}"
                );
                assert_eq!(vocabulary.term(term).as_deref(), Some(*term), "{vocabulary:?}");
            }
        }
    }
}
