//! Demo data: the two demo organisations and their users, and deterministic synthetic records
//! (clients, staff, appointments, encounters, claims) at any volume, inserted in batches.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use crate::{
    auth::accounts,
    db::{Db, with_db},
    error::AppError,
};

/// The demo's published password. Never seeded in production (see `Config::seed_demo`).
pub const DEMO_PASSWORD: &str = "demo-password";

/// The demo organisations, their email domains and time zones.
pub const DEMO_ORGANIZATIONS: &[(&str, &str, &str)] = &[
    ("Acme Behavioral Health", "acme.test", "America/New_York"),
    ("Globex Clinic", "globex.test", "Europe/London"),
];

/// The demo users of each organisation: local part, display name suffix, role.
pub const DEMO_USERS: &[(&str, &str, Option<&str>)] = &[
    ("admin", "Admin", Some("org_admin")),
    ("finance", "Finance", Some("finance_admin")),
    ("staff", "Staff", Some("staff")),
    ("norole", "No Role", None),
];

/// Default volume: appointments per organisation.
pub const DEFAULT_SCALE: u64 = 1_000;

/// Rows per INSERT statement: under SQLite's 32,766 bound variables for the widest table.
const BATCH: usize = 1_000;

/// What was seeded, for the command's output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub logins: Vec<(String, Option<&'static str>)>,
    pub organizations_seeded: usize,
    pub rows: u64,
}

/// True when no organisation exists yet.
pub async fn is_empty(db: &Db) -> Result<bool, AppError> {
    let count: i64 = with_db!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(pool).await
    })?;
    Ok(count == 0)
}

/// Creates the demo organisations and users (resetting their passwords), and fills each
/// organisation that has no records yet with `scale` appointments and what goes with them.
pub async fn demo(db: &Db, scale: u64) -> Result<SeedReport, AppError> {
    let mut report = SeedReport::default();
    for (name, domain, time_zone) in DEMO_ORGANIZATIONS {
        let organization_id = accounts::ensure_organization(db, name).await?;
        accounts::set_time_zone(db, organization_id, time_zone).await?;
        let short = name.split_whitespace().next().unwrap_or(name);
        for (local, title, role) in DEMO_USERS {
            let email = format!("{local}@{domain}");
            let user_id =
                accounts::upsert_user(db, &email, &format!("{short} {title}"), DEMO_PASSWORD).await?;
            accounts::grant(db, user_id, organization_id, *role).await?;
            report.logins.push((email, *role));
        }
        if !has_records(db, organization_id).await? {
            report.rows += records(db, organization_id, &accounts::slugify(name), scale).await?;
            report.organizations_seeded += 1;
        }
    }
    Ok(report)
}

async fn has_records(db: &Db, organization_id: Uuid) -> Result<bool, AppError> {
    let count: i64 = with_db!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_one(pool)
            .await
    })?;
    Ok(count > 0)
}

/// A bound value of any column type the records use.
#[derive(Debug, Clone)]
enum Cell {
    Id(Uuid),
    OptId(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

/// Inserts `rows` into `table` in one statement.
async fn insert(
    tx: &mut Transaction<'_>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Cell>>,
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let count = rows.len() as u64;
    let head = format!("INSERT INTO {table} ({}) ", columns.join(", "));
    macro_rules! run {
        ($tx:expr, $db:ty) => {{
            let mut builder = sqlx::QueryBuilder::<$db>::new(head);
            builder.push_values(rows, |mut row, cells| {
                for cell in cells {
                    match cell {
                        Cell::Id(v) => row.push_bind(v),
                        Cell::OptId(v) => row.push_bind(v),
                        Cell::Text(v) => row.push_bind(v),
                        Cell::OptText(v) => row.push_bind(v),
                        Cell::Date(v) => row.push_bind(v),
                        Cell::Instant(v) => row.push_bind(v),
                        Cell::Int(v) => row.push_bind(v),
                        Cell::OptInt(v) => row.push_bind(v),
                        Cell::Bool(v) => row.push_bind(v),
                    };
                }
            });
            builder.build().execute(&mut **$tx).await?;
        }};
    }
    match tx {
        Transaction::Sqlite(tx) => run!(tx, sqlx::Sqlite),
        Transaction::Postgres(tx) => run!(tx, sqlx::Postgres),
    }
    Ok(count)
}

enum Transaction<'a> {
    Sqlite(sqlx::Transaction<'a, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'a, sqlx::Postgres>),
}

impl Transaction<'_> {
    async fn begin(db: &Db) -> Result<Transaction<'static>, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(pool) => Transaction::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Transaction::Postgres(pool.begin().await?),
        })
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Transaction::Sqlite(tx) => tx.commit().await,
            Transaction::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Fills one organisation with deterministic records: the same `seed` and `scale` always give
/// the same rows. Returns the number of rows inserted.
pub async fn records(db: &Db, organization_id: Uuid, seed: &str, scale: u64) -> Result<u64, AppError> {
    let mut rng = Rng::new(seed);
    let mut tx = Transaction::begin(db).await?;
    let mut total = 0;

    let staff_count = (scale / 1_000).max(8);
    let client_count = (scale / 10).max(20);

    let staff_ids: Vec<Uuid> = (0..staff_count).map(|_| rng.uuid()).collect();
    for chunk in staff_ids.chunks(BATCH) {
        let rows = chunk
            .iter()
            .map(|id| staff_row(&mut rng, organization_id, *id))
            .collect();
        total += insert(&mut tx, "staff", STAFF_COLUMNS, rows).await?;
    }

    let client_ids: Vec<Uuid> = (0..client_count).map(|_| rng.uuid()).collect();
    for chunk in client_ids.chunks(BATCH) {
        let rows = chunk
            .iter()
            .map(|id| client_row(&mut rng, organization_id, *id))
            .collect();
        total += insert(&mut tx, "clients", CLIENT_COLUMNS, rows).await?;
    }

    let mut remaining = scale;
    while remaining > 0 {
        let n = remaining.min(BATCH as u64);
        remaining -= n;
        let (mut appointments, mut encounters, mut claims) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let appointment = Appointment {
                id: rng.uuid(),
                client_id: *rng.pick(&client_ids),
                staff_id: *rng.pick(&staff_ids),
                starts_at: rng.instant(),
                status: APPOINTMENT_STATUSES[rng.below(APPOINTMENT_STATUSES.len() as u64) as usize],
            };
            appointments.push(appointment_row(&mut rng, organization_id, &appointment));
            if appointment.status == "completed" {
                let encounter_id = rng.uuid();
                let (diagnosis, procedure) = (rng.pick(DIAGNOSES).0, rng.pick(PROCEDURES).0);
                encounters.push(encounter_row(
                    &mut rng,
                    organization_id,
                    encounter_id,
                    &appointment,
                    diagnosis,
                    procedure,
                ));
                if rng.below(10) < 8 {
                    claims.push(claim_row(
                        &mut rng,
                        organization_id,
                        encounter_id,
                        &appointment,
                        diagnosis,
                        procedure,
                    ));
                }
            }
        }
        total += insert(&mut tx, "appointments", APPOINTMENT_COLUMNS, appointments).await?;
        total += insert(&mut tx, "encounters", ENCOUNTER_COLUMNS, encounters).await?;
        total += insert(&mut tx, "claims", CLAIM_COLUMNS, claims).await?;
    }
    tx.commit().await?;
    Ok(total)
}

struct Appointment {
    id: Uuid,
    client_id: Uuid,
    staff_id: Uuid,
    starts_at: DateTime<Utc>,
    status: &'static str,
}

const STAFF_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "employee_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "npi",
    "hired_on",
    "active",
];

fn staff_row(rng: &mut Rng, organization_id: Uuid, id: Uuid) -> Vec<Cell> {
    let (first, last) = (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
    vec![
        Cell::Id(id),
        Cell::Id(organization_id),
        Cell::Text(format!("E{:05}", rng.below(100_000))),
        Cell::Text(first.to_string()),
        Cell::Text(last.to_string()),
        Cell::Text(format!("{}.{}@staff.example", ascii(first), ascii(last))),
        Cell::OptText(rng.chance(9, 10).then(|| rng.phone())),
        Cell::Text(rng.pick(JOB_TITLES).to_string()),
        Cell::OptText(
            rng.chance(7, 10)
                .then(|| format!("1{:09}", rng.below(1_000_000_000))),
        ),
        Cell::Date(rng.date(2005, 2026)),
        Cell::Bool(rng.chance(9, 10)),
    ]
}

const CLIENT_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "medical_record_number",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "email",
    "phone",
    "address_line",
    "city",
    "state",
    "zip_code",
    "insurance_member_id",
    "primary_diagnosis_code",
    "intake_date",
    "status",
];

fn client_row(rng: &mut Rng, organization_id: Uuid, id: Uuid) -> Vec<Cell> {
    let (first, last) = (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
    let (city, state, zip) = *rng.pick(PLACES);
    // About one client in fifty is over 89: Safe Harbor must hide their birth year.
    let born = if rng.chance(1, 50) {
        rng.date(1925, 1935)
    } else {
        rng.date(1940, 2012)
    };
    vec![
        Cell::Id(id),
        Cell::Id(organization_id),
        Cell::Text(format!("MRN-{:07}", rng.below(10_000_000))),
        Cell::Text(first.to_string()),
        Cell::Text(last.to_string()),
        Cell::Date(born),
        Cell::Text(rng.pick(&["F", "M", "X"]).to_string()),
        Cell::OptText(
            rng.chance(8, 10)
                .then(|| format!("{}.{}{}@mail.example", ascii(first), ascii(last), rng.below(100))),
        ),
        Cell::OptText(rng.chance(9, 10).then(|| rng.phone())),
        Cell::OptText(Some(format!("{} {}", 1 + rng.below(9_999), rng.pick(STREETS)))),
        Cell::OptText(Some(city.to_string())),
        Cell::OptText(Some(state.to_string())),
        Cell::OptText(Some(format!("{zip}{:02}", rng.below(100)))),
        Cell::OptText(rng.chance(9, 10).then(|| {
            format!(
                "{}{:09}",
                rng.pick(&["BCX", "AET", "UHC", "MCD"]),
                rng.below(1_000_000_000)
            )
        })),
        Cell::OptText(Some(rng.pick(DIAGNOSES).0.to_string())),
        Cell::Date(rng.date(2015, 2026)),
        Cell::Text(
            rng.pick(&["active", "active", "active", "discharged", "waitlist"])
                .to_string(),
        ),
    ]
}

const APPOINTMENT_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "client_id",
    "staff_id",
    "starts_at",
    "duration_minutes",
    "appointment_type",
    "location",
    "status",
    "notes",
];

fn appointment_row(rng: &mut Rng, organization_id: Uuid, appointment: &Appointment) -> Vec<Cell> {
    vec![
        Cell::Id(appointment.id),
        Cell::Id(organization_id),
        Cell::Id(appointment.client_id),
        Cell::Id(appointment.staff_id),
        Cell::Instant(appointment.starts_at),
        Cell::Int(*rng.pick(&[30, 45, 50, 60, 90])),
        Cell::Text(
            rng.pick(&[
                "intake",
                "individual therapy",
                "group therapy",
                "medication management",
                "family therapy",
            ])
            .to_string(),
        ),
        Cell::Text(
            rng.pick(&["Main clinic", "Telehealth", "Northside office"])
                .to_string(),
        ),
        Cell::Text(appointment.status.to_string()),
        Cell::OptText(rng.chance(1, 3).then(|| rng.pick(NOTES).to_string())),
    ]
}

const ENCOUNTER_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "client_id",
    "staff_id",
    "appointment_id",
    "service_date",
    "diagnosis_code",
    "procedure_code",
    "duration_minutes",
    "note_summary",
];

fn encounter_row(
    rng: &mut Rng,
    organization_id: Uuid,
    id: Uuid,
    appointment: &Appointment,
    diagnosis: &str,
    procedure: &str,
) -> Vec<Cell> {
    vec![
        Cell::Id(id),
        Cell::Id(organization_id),
        Cell::Id(appointment.client_id),
        Cell::Id(appointment.staff_id),
        Cell::OptId(Some(appointment.id)),
        Cell::Date(appointment.starts_at.date_naive()),
        Cell::Text(diagnosis.to_string()),
        Cell::Text(procedure.to_string()),
        Cell::Int(*rng.pick(&[30, 45, 53, 60])),
        Cell::OptText(rng.chance(1, 2).then(|| rng.pick(NOTES).to_string())),
    ]
}

const CLAIM_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "client_id",
    "encounter_id",
    "claim_number",
    "payer_name",
    "procedure_code",
    "diagnosis_code",
    "submitted_on",
    "billed_cents",
    "paid_cents",
    "status",
];

fn claim_row(
    rng: &mut Rng,
    organization_id: Uuid,
    encounter_id: Uuid,
    appointment: &Appointment,
    diagnosis: &str,
    procedure: &str,
) -> Vec<Cell> {
    let billed = 8_000 + rng.below(22_000) as i64;
    let status = rng.pick(&["submitted", "paid", "paid", "denied", "pending"]);
    vec![
        Cell::Id(rng.uuid()),
        Cell::Id(organization_id),
        Cell::Id(appointment.client_id),
        Cell::OptId(Some(encounter_id)),
        Cell::Text(format!("CLM-{:010}", rng.below(10_000_000_000))),
        Cell::Text(rng.pick(PAYERS).to_string()),
        Cell::Text(procedure.to_string()),
        Cell::Text(diagnosis.to_string()),
        Cell::Date(appointment.starts_at.date_naive() + TimeDelta::days(1 + rng.below(14) as i64)),
        Cell::Int(billed),
        Cell::OptInt((*status == "paid").then(|| billed * (60 + rng.below(40) as i64) / 100)),
        Cell::Text(status.to_string()),
    ]
}

/// SplitMix64: tiny, fast, and the same sequence on every platform (also drives the tests'
/// reproducible hostile inputs).
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed`'s text.
    pub fn new(seed: &str) -> Rng {
        // FNV-1a of the seed text.
        Rng(seed.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ byte as u64).wrapping_mul(0x100_0000_01b3)
        }))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> Uuid {
        let bytes = ((self.next_u64() as u128) << 64 | self.next_u64() as u128).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn date(&mut self, from_year: i32, to_year: i32) -> NaiveDate {
        let start = NaiveDate::from_ymd_opt(from_year, 1, 1).expect("valid year");
        let end = NaiveDate::from_ymd_opt(to_year, 1, 1).expect("valid year");
        start + TimeDelta::days(self.below((end - start).num_days() as u64) as i64)
    }

    /// A weekday appointment time between 2023 and November 2026, on the quarter hour.
    fn instant(&mut self) -> DateTime<Utc> {
        let day = self.date(2023, 2026) + TimeDelta::days(self.below(300) as i64);
        let day = match day.weekday().number_from_monday() {
            6 => day + TimeDelta::days(2),
            7 => day + TimeDelta::days(1),
            _ => day,
        };
        let minutes = 13 * 60 + self.below(40) as i64 * 15; // 13:00–23:00 UTC: US office hours
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight")) + TimeDelta::minutes(minutes)
    }

    fn phone(&mut self) -> String {
        format!("+1-{}-555-{:04}", 200 + self.below(800), self.below(10_000))
    }
}

/// A name as it would appear in an email address.
fn ascii(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_lowercase()
}

// Names and notes include apostrophes, accents, commas, quotes and line breaks on purpose:
// exports must carry them through every format intact.
const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Mateo", "Isabella", "Lucas", "Mia",
    "Amelia", "José", "Zoë", "Chloé", "Siobhán", "Nguyễn", "Aaliyah", "Kwame", "Priya", "Wei", "Fatima",
    "Björn", "Renée",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernández",
    "O'Brien",
    "D'Angelo",
    "Nakamura",
    "Okafor",
    "Kowalski",
    "Van der Berg",
    "Al-Sayed",
    "Müller",
    "Chen",
    "Patel",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave, Apt 4",
    "Maple Dr",
    "Elm St, Unit \"B\"",
    "Cedar Ln",
    "Pine Rd",
];
/// (city, state, first three ZIP digits). 036 and 059 are among the sparsely populated ZIP3s
/// that Safe Harbor reports as 000.
const PLACES: &[(&str, &str, &str)] = &[
    ("Springfield", "IL", "627"),
    ("Portland", "OR", "972"),
    ("Austin", "TX", "787"),
    ("Columbus", "OH", "432"),
    ("Albany", "NY", "122"),
    ("Denver", "CO", "802"),
    ("Claremont", "NH", "036"),
    ("Havre", "MT", "595"),
    ("Sidney", "MT", "592"),
    ("Glasgow", "MT", "059"),
];
/// Half the appointments are completed (and so have an encounter).
const APPOINTMENT_STATUSES: &[&str] = &[
    "scheduled",
    "completed",
    "completed",
    "completed",
    "cancelled",
    "no_show",
];
const JOB_TITLES: &[&str] = &[
    "Psychiatrist",
    "Psychologist",
    "Licensed Clinical Social Worker",
    "Nurse Practitioner",
    "Counselor",
    "Front Desk",
];
/// ICD-10-CM codes common in behavioural health.
const DIAGNOSES: &[(&str, &str)] = &[
    ("F32.1", "Major depressive disorder, single episode, moderate"),
    ("F33.1", "Major depressive disorder, recurrent, moderate"),
    ("F41.1", "Generalized anxiety disorder"),
    ("F43.10", "Post-traumatic stress disorder, unspecified"),
    ("F90.0", "ADHD, predominantly inattentive type"),
    ("F31.81", "Bipolar II disorder"),
    ("F10.20", "Alcohol dependence, uncomplicated"),
    ("F50.00", "Anorexia nervosa, unspecified"),
];
/// CPT codes for psychiatric services.
const PROCEDURES: &[(&str, &str)] = &[
    ("90791", "Psychiatric diagnostic evaluation"),
    ("90834", "Psychotherapy, 45 minutes"),
    ("90837", "Psychotherapy, 60 minutes"),
    ("90853", "Group psychotherapy"),
    ("99214", "Office visit, moderate complexity"),
    ("90847", "Family psychotherapy"),
];
const PAYERS: &[&str] = &[
    "Blue Cross",
    "Aetna",
    "UnitedHealthcare",
    "Medicaid",
    "Medicare",
    "Cigna",
    "Self-pay",
];
const NOTES: &[&str] = &[
    "Client reports improved sleep; continue current plan.",
    "Discussed coping strategies, \"grounding\" exercises.",
    "Follow-up in 2 weeks.\nCoordinate with PCP.",
    "-- rescheduled by client",
    "+1 family member attended",
    "=Intake packet reviewed",
    "Safety plan reviewed, no SI/HI reported.",
    "Medication adherence: good; side effects, none.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = Rng::new("acme");
        let mut b = Rng::new("acme");
        let mut c = Rng::new("globex");
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..5).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert_eq!(a.uuid().get_version_num(), 4);
    }

    #[test]
    fn appointment_times_fall_on_weekdays() {
        let mut rng = Rng::new("weekdays");
        for _ in 0..1000 {
            let at = rng.instant();
            assert!(at.weekday().number_from_monday() <= 5, "{at}");
        }
    }
}
