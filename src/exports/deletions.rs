//! Objects to delete (`pf_object_deletions`): every file or multipart upload the system means to
//! remove is noted in the same transaction as the outcome that makes it garbage, and every worker
//! process sweeps the notes, with back-off, until the store confirms each one gone. A store that
//! is down for minutes delays a deletion; it never leaves an object behind.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, Tx, now, with_db, with_tx},
    retry::RetryPolicy,
    storage::{ObjectKey, ObjectStore},
};

/// How long a sweeper holds the notes it claimed: one that dies mid-sweep leaves them to another
/// process after this.
const HOLD: Duration = Duration::from_secs(60);

/// Notes at most this many due deletions per sweep.
pub const SWEEP_BATCH: i64 = 50;

/// Notes, inside `tx`, that `keys` (files of request `export_request_id`) are to be deleted, and
/// moves the request's noted multipart uploads here to be aborted. Call it in the transaction that
/// makes them garbage; noting a key twice is harmless.
pub async fn note_in(tx: &mut Tx, export_request_id: Uuid, keys: &[ObjectKey]) -> Result<(), sqlx::Error> {
    let at = now();
    for key in keys {
        insert(tx, export_request_id, key.as_str(), "", (at, at)).await?;
    }
    let uploads: Vec<(String, String)> = with_tx!(tx, conn => {
        sqlx::query_as("SELECT upload_id, storage_key FROM pf_export_uploads WHERE export_request_id = $1")
            .bind(export_request_id)
            .fetch_all(&mut *conn)
            .await
    })?;
    for (upload_id, storage_key) in &uploads {
        insert(tx, export_request_id, storage_key, upload_id, (at, at)).await?;
    }
    if !uploads.is_empty() {
        with_tx!(tx, conn => {
            sqlx::query("DELETE FROM pf_export_uploads WHERE export_request_id = $1")
                .bind(export_request_id)
                .execute(&mut *conn)
                .await
                .map(drop)
        })?;
    }
    Ok(())
}

/// Notes `key` (a file of `owner`'s that is not an export's, such as an accounting of
/// disclosures) to be deleted at `due`: the sweep leaves it alone until then.
pub async fn note_later(
    db: &Db,
    owner: Uuid,
    key: &ObjectKey,
    due: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    insert(&mut tx, owner, key.as_str(), "", (now(), due)).await?;
    tx.commit().await
}

/// Notes `keys` on their own (no outcome to commit them with: an attempt fenced out after its
/// upload notes its own file).
pub async fn note(db: &Db, export_request_id: Uuid, keys: &[ObjectKey]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let at = now();
    for key in keys {
        insert(&mut tx, export_request_id, key.as_str(), "", (at, at)).await?;
    }
    tx.commit().await
}

/// Notes one key (or upload), noted at `at` and due at `due`.
async fn insert(
    tx: &mut Tx,
    export_request_id: Uuid,
    storage_key: &str,
    upload_id: &str,
    (at, due): (DateTime<Utc>, DateTime<Utc>),
) -> Result<(), sqlx::Error> {
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO pf_object_deletions \
             (id, storage_key, upload_id, export_request_id, noted_at, tries, next_try_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (storage_key, upload_id) DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(storage_key)
        .bind(upload_id)
        .bind(export_request_id)
        .bind(at)
        .bind(due)
        .execute(&mut *conn)
        .await
        .map(drop)
    })
}

/// Moves to the notes the uploads a request's attempts noted after the request had finished (or
/// was deleted), once they are `grace` old: an attempt that lost its lease but not its process
/// may open one late, and its parts would otherwise stay in the bucket. Returns how many.
pub async fn adopt_orphaned_uploads(db: &Db, grace: Duration) -> Result<usize, sqlx::Error> {
    let before = now() - TimeDelta::from_std(grace).unwrap_or(TimeDelta::minutes(1));
    let orphaned: Vec<(Uuid,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT DISTINCT u.export_request_id FROM pf_export_uploads u \
             LEFT JOIN pf_export_requests r ON r.id = u.export_request_id \
             WHERE u.started_at < $1 AND (r.id IS NULL OR r.status NOT IN ('pending', 'processing'))",
        )
        .bind(before)
        .fetch_all(pool)
        .await
    })?;
    for (export_request_id,) in &orphaned {
        let mut tx = db.begin().await?;
        note_in(&mut tx, *export_request_id, &[]).await?;
        tx.commit().await?;
    }
    Ok(orphaned.len())
}

/// A note a sweeper holds.
#[derive(Debug, sqlx::FromRow)]
struct Noted {
    id: Uuid,
    storage_key: String,
    upload_id: String,
    export_request_id: Uuid,
    tries: i32,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Confirmed gone and forgotten.
    pub deleted: usize,
    /// Still there; tried again after a back-off.
    pub deferred: usize,
}

/// Claims up to [`SWEEP_BATCH`] due notes (only request `only`'s, if given), deletes each object
/// or aborts each upload, forgets the ones the store confirmed and pushes the others back by
/// `retry`'s back-off. Several processes may sweep at once: each note is claimed by one.
pub async fn sweep(
    db: &Db,
    store: &ObjectStore,
    retry: &RetryPolicy,
    only: Option<Uuid>,
) -> Result<Swept, sqlx::Error> {
    let mut swept = Swept::default();
    for noted in claim(db, only).await? {
        let Some(key) = ObjectKey::parse(&noted.storage_key) else {
            // Not a key this app writes, so not an object it could have stored.
            tracing::error!(export_request_id = %noted.export_request_id, "a deletion noted with an invalid key");
            forget(db, noted.id).await?;
            continue;
        };
        let result = if noted.upload_id.is_empty() {
            store.delete(&key).await
        } else {
            store.abort_upload(&key, &noted.upload_id).await
        };
        match result {
            Ok(()) => {
                forget(db, noted.id).await?;
                swept.deleted += 1;
                tracing::info!(
                    export_request_id = %noted.export_request_id,
                    upload = !noted.upload_id.is_empty(),
                    tries = noted.tries,
                    "deleted a noted object"
                );
            }
            Err(error) => {
                let wait = retry.delay(noted.tries);
                defer(db, noted.id, wait, &error.to_string()).await?;
                swept.deferred += 1;
                tracing::warn!(
                    export_request_id = %noted.export_request_id,
                    tries = noted.tries,
                    retry_in_ms = wait.as_millis() as u64,
                    %error,
                    "cannot delete a noted object yet"
                );
            }
        }
    }
    Ok(swept)
}

/// Claims due notes by moving their next try past [`HOLD`].
async fn claim(db: &Db, only: Option<Uuid>) -> Result<Vec<Noted>, sqlx::Error> {
    let at = now();
    let hold = at + TimeDelta::from_std(HOLD).expect("a minute");
    let filter = if only.is_some() {
        "AND export_request_id = $4"
    } else {
        ""
    };
    // Postgres: concurrent sweepers skip each other's rows; SQLite has a single writer.
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE pf_object_deletions SET tries = tries + 1, next_try_at = $1 WHERE id IN (\
           SELECT id FROM pf_object_deletions WHERE next_try_at <= $2 {filter} \
           ORDER BY next_try_at LIMIT $3 {lock}) \
         RETURNING id, storage_key, upload_id, export_request_id, tries"
    );
    with_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(hold).bind(at).bind(SWEEP_BATCH);
        if let Some(id) = only {
            query = query.bind(id);
        }
        query.fetch_all(pool).await
    })
}

async fn forget(db: &Db, id: Uuid) -> Result<(), sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query("DELETE FROM pf_object_deletions WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(drop)
    })
}

async fn defer(db: &Db, id: Uuid, wait: Duration, error: &str) -> Result<(), sqlx::Error> {
    let next = now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(5));
    with_db!(db, pool => {
        sqlx::query("UPDATE pf_object_deletions SET next_try_at = $2, last_error = $3 WHERE id = $1")
            .bind(id)
            .bind(next)
            .bind(error)
            .execute(pool)
            .await
            .map(drop)
    })
}
