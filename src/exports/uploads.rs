//! The journal of multipart uploads workers have open (`pf_export_uploads`), and the sweep that
//! aborts those a dead attempt left, so a killed worker leaves no parts in the bucket.

use futures::{FutureExt, future::BoxFuture};
use uuid::Uuid;

use crate::{
    db::{Db, now, with_db},
    error::AppError,
    storage::{ObjectKey, ObjectStore, StorageError, UploadJournal},
};

/// Notes the uploads of one export request's attempt.
pub struct Journal {
    db: Db,
    export_request_id: Uuid,
}

impl Journal {
    pub fn new(db: Db, export_request_id: Uuid) -> Journal {
        Journal {
            db,
            export_request_id,
        }
    }
}

impl UploadJournal for Journal {
    fn opened<'a>(
        &'a self,
        key: &'a ObjectKey,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        async move {
            with_db!(&self.db, pool => {
                sqlx::query(
                    "INSERT INTO pf_export_uploads (upload_id, export_request_id, storage_key, started_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(upload_id)
                .bind(self.export_request_id)
                .bind(key.as_str())
                .bind(now())
                .execute(pool)
                .await
                .map(drop)
            })
            .map_err(|e| StorageError::Journal(e.to_string()))
        }
        .boxed()
    }

    fn closed<'a>(&'a self, upload_id: &'a str) -> BoxFuture<'a, ()> {
        async move {
            // If this fails the note stays, and the sweep's abort of a finished upload is a no-op.
            if let Err(error) = forget(&self.db, upload_id).await {
                tracing::warn!(%error, "cannot forget a finished upload");
            }
        }
        .boxed()
    }
}

async fn forget(db: &Db, upload_id: &str) -> Result<(), sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query("DELETE FROM pf_export_uploads WHERE upload_id = $1")
            .bind(upload_id)
            .execute(pool)
            .await
            .map(drop)
    })
}

/// Aborts every upload still noted for `export_request_id` and forgets it; returns how many.
/// Call it only when no attempt of the request can still be uploading: once the request has
/// finished (completed, failed or given up) or while it is being deleted. An upload that cannot be
/// aborted stays noted for the next call.
pub async fn discard(db: &Db, store: &ObjectStore, export_request_id: Uuid) -> Result<usize, AppError> {
    let noted: Vec<(String, String)> = with_db!(db, pool => {
        sqlx::query_as("SELECT upload_id, storage_key FROM pf_export_uploads WHERE export_request_id = $1")
            .bind(export_request_id)
            .fetch_all(pool)
            .await
    })?;
    let mut aborted = 0;
    for (upload_id, storage_key) in noted {
        match ObjectKey::parse(&storage_key) {
            Some(key) => {
                if let Err(error) = store.abort_upload(&key, &upload_id).await {
                    tracing::warn!(%export_request_id, %error, "cannot abort a dead attempt's upload");
                    continue;
                }
            }
            // Not a key this app writes: nothing to abort.
            None => tracing::error!(%export_request_id, "an upload noted with an invalid key"),
        }
        forget(db, &upload_id).await?;
        aborted += 1;
    }
    Ok(aborted)
}
