//! The ledger itself: written in the transaction that records an identified export's
//! completion (so a killed attempt leaves none and the winner's is exact), read for one client,
//! and swept once kept long enough. Deleting a request's history row or its file touches none of
//! it.

use std::{
    collections::{HashMap, HashSet},
    hash::{BuildHasherDefault, Hasher},
};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::bits;
use crate::{
    db::{Db, Tx, now, with_db, with_tx},
    exports::catalog::ValidExport,
    records::Class,
};

/// An identified export, as far as the ledger needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct Disclosed<'a> {
    pub export_request_id: Uuid,
    pub organization_id: Uuid,
    pub spec: &'a ValidExport,
    /// Where its dates are days.
    pub time_zone: &'a str,
    pub requested_by: Option<Uuid>,
}

/// Rows per multi-row `INSERT` (3 or 4 parameters each: well under either database's limit).
const INSERT_ROWS: usize = 500;

/// The organisation's numbered clients (`$1`): what an export loads before it reads, so that it
/// can note each row's client as a bit.
pub const SUBJECTS_SQL: &str =
    "SELECT client_id, subject_no FROM pf_disclosure_subjects WHERE organization_id = $1";

/// Hashes a client id by its own bits (ids are random v4 UUIDs from the database, not input): a
/// multiply-rotate over its words, several times cheaper per row than SipHash.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Ids<V> = HashMap<Uuid, V, BuildHasherDefault<IdHasher>>;

/// The clients an export carries, noted row by row as it reads: those the ledger numbered before
/// the export began as bits, the others by id (numbered when the completion records them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Carried {
    known: Ids<u32>,
    /// The highest number among them: if it is still the highest at completion, nobody numbered
    /// a client since, and the new ones need no looking up.
    highest: Option<u32>,
    bits: Vec<u64>,
    new: HashSet<Uuid, BuildHasherDefault<IdHasher>>,
}

impl Carried {
    /// Before reading: `known` are the organisation's numbered clients ([`SUBJECTS_SQL`]).
    pub fn new(known: impl IntoIterator<Item = (Uuid, u32)>) -> Carried {
        let known: Ids<u32> = known.into_iter().collect();
        Carried {
            highest: known.values().copied().max(),
            known,
            ..Carried::default()
        }
    }

    /// A row of `client`'s was written.
    pub fn note(&mut self, client: Uuid) {
        match self.known.get(&client) {
            Some(&number) => {
                let (word, bit) = ((number / 64) as usize, number % 64);
                if word >= self.bits.len() {
                    self.bits.resize(word + 1, 0);
                }
                self.bits[word] |= 1 << bit;
            }
            None => {
                self.new.insert(client);
            }
        }
    }

    /// How many clients.
    pub fn len(&self) -> usize {
        self.bits
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum::<usize>()
            + self.new.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many of them the ledger had not numbered when the export began.
    pub fn unnumbered(&self) -> usize {
        self.new.len()
    }

    /// The numbers of the clients numbered before the export began.
    fn known_numbers(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().enumerate().flat_map(|(word, bits)| {
            (0..64)
                .filter(move |bit| bits & (1 << bit) != 0)
                .map(move |bit| word as u32 * 64 + bit)
        })
    }
}

/// An export's disclosure as the ledger keeps it: what, when, to whom, why, at whose request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub export_request_id: Uuid,
    pub completed_at: DateTime<Utc>,
    pub export_type: String,
    pub export_format: String,
    /// JSON array of entity type keys.
    pub entity_types: String,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub time_zone: String,
    /// JSON array of class keys (`phi`, `pii`, `general`).
    pub information: String,
    pub purpose: Option<String>,
    pub purpose_detail: Option<String>,
    pub recipient: Option<String>,
    pub requested_by: Option<String>,
    pub client_count: i64,
}

/// Records, inside `tx` (the completion's), that `export`, completed at `completed_at`, carried
/// the records of `clients`; kept until `keep_until`. Only for identified exports: the engine
/// collects no clients for a de-identified one.
pub async fn record_in(
    tx: &mut Tx,
    export: Disclosed<'_>,
    clients: &Carried,
    completed_at: DateTime<Utc>,
    keep_until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let organization_id = export.organization_id;
    let id = export.export_request_id;
    let numbers = numbers_of(tx, organization_id, clients).await?;
    let requested_by = match export.requested_by {
        Some(user) => requester(tx, user).await?,
        None => None,
    };
    let spec = export.spec;
    let entity_types: Vec<&str> = spec.entity_types.iter().map(|entity| entity.key()).collect();
    let information: Vec<&str> = Class::ALL
        .into_iter()
        .filter(|class| {
            spec.columns
                .values()
                .flatten()
                .any(|column| column.class == *class)
        })
        .map(Class::key)
        .collect();
    let disclosure = spec.disclosure.as_ref();
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO pf_disclosures (export_request_id, organization_id, completed_at, keep_until, export_type, \
             export_format, entity_types, date_from, date_to, time_zone, information, purpose, purpose_detail, \
             recipient, requested_by, client_count) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(id)
        .bind(organization_id)
        .bind(completed_at)
        .bind(keep_until)
        .bind(spec.export_type.key())
        .bind(spec.export_format.key())
        .bind(sqlx::types::Json(&entity_types))
        .bind(spec.date_range.map(|range| range.from))
        .bind(spec.date_range.map(|range| range.to))
        .bind(export.time_zone)
        .bind(sqlx::types::Json(&information))
        .bind(disclosure.map(|d| d.purpose.key()))
        .bind(disclosure.and_then(|d| d.purpose_detail.clone()))
        .bind(disclosure.map(|d| d.recipient.clone()))
        .bind(requested_by)
        .bind(clients.len() as i64)
        .execute(&mut *conn)
        .await
        .map(drop)
    })?;
    let blocks: Vec<(u32, Vec<u8>)> = bits::blocks(numbers).into_iter().collect();
    for chunk in blocks.chunks(INSERT_ROWS) {
        let values = placeholders(chunk.len(), 4);
        let sql = format!(
            "INSERT INTO pf_disclosure_blocks (organization_id, export_request_id, block, bits) VALUES {values}"
        );
        with_tx!(tx, conn => {
            let mut query = sqlx::query(&sql);
            for (block, bits) in chunk {
                query = query.bind(organization_id).bind(id).bind(*block as i32).bind(bits.clone());
            }
            query.execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// `rows` groups of `width` numbered placeholders: `($1, $2), ($3, $4)`.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let fields: Vec<String> = (1..=width).map(|n| format!("${}", row * width + n)).collect();
            format!("({})", fields.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who asked for it, as the ledger names them: "Name <email>".
async fn requester(tx: &mut Tx, user: Uuid) -> Result<Option<String>, sqlx::Error> {
    let found: Option<(String, String)> = with_tx!(tx, conn => {
        sqlx::query_as("SELECT display_name, email FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(&mut *conn)
            .await
    })?;
    Ok(found.map(|(name, email)| format!("{name} <{email}>")))
}

/// The subject numbers of `clients`: the bits noted while reading, and numbers for the clients
/// new to the ledger then (another completion may have numbered some since; the rest get the
/// next ones after the highest so far). Runs alone per organisation (Postgres: an advisory lock
/// for the transaction; SQLite: the completion already holds the write lock).
async fn numbers_of(tx: &mut Tx, organization_id: Uuid, clients: &Carried) -> Result<Vec<u32>, sqlx::Error> {
    let mut numbers: Vec<u32> = clients.known_numbers().collect();
    if clients.new.is_empty() {
        return Ok(numbers);
    }
    if let Tx::Postgres(conn) = tx {
        let (high, low) = organization_id.as_u64_pair();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind((high ^ low ^ LEDGER_LOCK) as i64)
            .execute(&mut **conn)
            .await?;
    }
    let highest: Option<i32> = with_tx!(tx, conn => {
        sqlx::query_scalar("SELECT MAX(subject_no) FROM pf_disclosure_subjects WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_one(&mut *conn)
            .await
    })?;
    let highest = highest.map(|highest| highest as u32);
    // Numbered in id order: the same clients get the same numbers whatever the set's order.
    let mut new: Vec<Uuid> = clients.new.iter().copied().collect();
    new.sort();
    let mut numbered: Ids<u32> = Ids::default();
    // Only if another completion numbered clients since the export began may some be numbered.
    let lookups = if highest == clients.highest {
        &[][..]
    } else {
        &new[..]
    };
    for chunk in lookups.chunks(INSERT_ROWS) {
        let sql = format!(
            "{SUBJECTS_SQL} AND client_id IN ({})",
            (2..chunk.len() + 2)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let found: Vec<(Uuid, i32)> = with_tx!(tx, conn => {
            let mut query = sqlx::query_as(&sql).bind(organization_id);
            for client in chunk {
                query = query.bind(*client);
            }
            query.fetch_all(&mut *conn).await
        })?;
        numbered.extend(found.into_iter().map(|(client, number)| (client, number as u32)));
    }
    let mut next = highest.map_or(0, |highest| highest + 1);
    let mut fresh = Vec::new();
    for client in new {
        match numbered.get(&client) {
            Some(&number) => numbers.push(number),
            None => {
                fresh.push((client, next));
                numbers.push(next);
                next += 1;
            }
        }
    }
    for chunk in fresh.chunks(INSERT_ROWS) {
        let sql = format!(
            "INSERT INTO pf_disclosure_subjects (organization_id, client_id, subject_no) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        with_tx!(tx, conn => {
            let mut query = sqlx::query(&sql);
            for (client, number) in chunk {
                query = query.bind(organization_id).bind(*client).bind(*number as i32);
            }
            query.execute(&mut *conn).await.map(drop)
        })?;
    }
    Ok(numbers)
}

/// Mixed into the organisation's advisory-lock key, so the ledger's lock is its own.
const LEDGER_LOCK: u64 = 0x6c65_6467_6572_0001;

/// Every disclosure of the organisation's client `client_id` completed in `[from, until)` and
/// still kept, newest first.
pub async fn for_client(
    db: &Db,
    organization_id: Uuid,
    client_id: Uuid,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Entry>, sqlx::Error> {
    let number: Option<i32> = with_db!(db, pool => {
        sqlx::query_scalar(
            "SELECT subject_no FROM pf_disclosure_subjects WHERE organization_id = $1 AND client_id = $2",
        )
        .bind(organization_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await
    })?;
    let Some(number) = number.map(|no| no as u32) else {
        return Ok(Vec::new());
    };
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        entry: Entry,
        bits: Vec<u8>,
    }
    let found: Vec<Found> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT d.export_request_id, d.completed_at, d.export_type, d.export_format, \
                    CAST(d.entity_types AS TEXT) AS entity_types, d.date_from, d.date_to, d.time_zone, \
                    CAST(d.information AS TEXT) AS information, d.purpose, d.purpose_detail, d.recipient, \
                    d.requested_by, d.client_count, b.bits \
             FROM pf_disclosure_blocks b \
             JOIN pf_disclosures d ON d.export_request_id = b.export_request_id \
             WHERE b.organization_id = $1 AND b.block = $2 \
               AND d.completed_at >= $3 AND d.completed_at < $4 AND d.keep_until > $5 \
             ORDER BY d.completed_at DESC, d.export_request_id DESC",
        )
        .bind(organization_id)
        .bind(bits::block_of(number) as i32)
        .bind(from)
        .bind(until)
        .bind(now())
        .fetch_all(pool)
        .await
    })?;
    Ok(found
        .into_iter()
        .filter(|found| bits::contains(&found.bits, number))
        .map(|found| found.entry)
        .collect())
}

/// Forgets the disclosures kept long enough; returns how many.
pub async fn sweep(db: &Db) -> Result<u64, sqlx::Error> {
    let at = now();
    let mut tx = db.begin().await?;
    with_tx!(&mut tx, conn => {
        sqlx::query(
            "DELETE FROM pf_disclosure_blocks WHERE export_request_id IN \
             (SELECT export_request_id FROM pf_disclosures WHERE keep_until <= $1)",
        )
        .bind(at)
        .execute(&mut *conn)
        .await
        .map(drop)
    })?;
    let gone = with_tx!(&mut tx, conn => {
        sqlx::query("DELETE FROM pf_disclosures WHERE keep_until <= $1")
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    tx.commit().await?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbered_client_is_noted_as_its_bit_and_another_by_id_once_each() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut carried = Carried::new([(a, 0), (b, 130)]);
        for client in [b, c, b, c, a] {
            carried.note(client);
        }
        assert_eq!(carried.known_numbers().collect::<Vec<_>>(), [0, 130]);
        assert_eq!((carried.len(), carried.unnumbered()), (3, 1));
        assert!(!carried.is_empty() && Carried::default().is_empty());
    }
}
