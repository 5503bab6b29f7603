//! Finding the client an accounting is for: by record number, or by name, in the organisation's
//! own records only.

use uuid::Uuid;

use super::model::ClientMatch;
use crate::db::{Db, with_db};

/// At most this many clients answer a search.
pub const MATCHES: i64 = 20;

/// A search longer than this is refused.
pub const QUERY_CHARS: usize = 100;

#[derive(sqlx::FromRow)]
struct Found {
    id: Uuid,
    medical_record_number: String,
    first_name: String,
    last_name: String,
}

impl From<Found> for ClientMatch {
    fn from(found: Found) -> ClientMatch {
        ClientMatch {
            id: found.id,
            record_number: found.medical_record_number,
            name: format!("{} {}", found.first_name, found.last_name),
        }
    }
}

const COLUMNS: &str = "id, medical_record_number, first_name, last_name";

/// The organisation's clients whose record number, first name, last name or full name starts
/// with `query` (any case); by name, at most [`MATCHES`].
pub async fn search(db: &Db, organization_id: Uuid, query: &str) -> Result<Vec<ClientMatch>, sqlx::Error> {
    let query = query.trim().to_lowercase();
    let escaped: String = query
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let prefix = format!("{escaped}%");
    let sql = format!(
        "SELECT {COLUMNS} FROM clients WHERE organization_id = $1 AND (lower(medical_record_number) LIKE $2 ESCAPE '\\' \
           OR lower(first_name) LIKE $2 ESCAPE '\\' OR lower(last_name) LIKE $2 ESCAPE '\\' \
           OR lower(first_name || ' ' || last_name) LIKE $2 ESCAPE '\\') \
         ORDER BY last_name, first_name, medical_record_number LIMIT $3"
    );
    let found: Vec<Found> = with_db!(db, pool => {
        sqlx::query_as(&sql)
            .bind(organization_id)
            .bind(&prefix)
            .bind(MATCHES)
            .fetch_all(pool)
            .await
    })?;
    Ok(found.into_iter().map(ClientMatch::from).collect())
}

/// The organisation's client `id`; `None` for a missing id or another organisation's.
pub async fn find(db: &Db, organization_id: Uuid, id: Uuid) -> Result<Option<ClientMatch>, sqlx::Error> {
    let found: Option<Found> = with_db!(db, pool => {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM clients WHERE organization_id = $1 AND id = $2"))
            .bind(organization_id)
            .bind(id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.map(ClientMatch::from))
}
