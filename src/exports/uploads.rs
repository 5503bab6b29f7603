//! The journal of multipart uploads workers have open (`pf_export_uploads`), so a killed worker
//! leaves a note from which `deletions` aborts its upload once the request has finished.

use futures::{FutureExt, future::BoxFuture};
use uuid::Uuid;

use crate::{
    db::{Db, now, with_db},
    storage::{ObjectKey, StorageError, UploadJournal},
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
                tracing::warn!(error = %crate::error::LogSafe(&error), "cannot forget a finished upload");
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
