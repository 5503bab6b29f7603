//! Object storage for finished exports: the private `pf-exports` bucket on local disk (the
//! embedded default, URLs signed by the app) or on any S3-compatible store (rusty-s3 signs,
//! reqwest carries). Objects leave the bucket only through signed URLs.

pub mod disposition;
pub mod fs;
pub mod key;
pub mod s3;

use std::{sync::Arc, time::Duration};

use futures::{Stream, StreamExt, future::BoxFuture};

pub use key::ObjectKey;

use crate::config::storage::MAX_SIGNED_URL_TTL;

/// A storage failure. Its text may name keys and endpoints: log it, never show it to a user.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("signed URL lifetime must be between 1 second and 7 days")]
    InvalidTtl,
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("S3 transport: {0}")]
    Transport(reqwest::Error),
    #[error("S3 answered {status} to {operation}")]
    S3 { operation: &'static str, status: u16 },
    #[error("S3 answer to {0} could not be read")]
    BadResponse(&'static str),
    #[error("cannot note an open upload: {0}")]
    Journal(String),
}

impl StorageError {
    /// The store was unreachable or busy: the same request may succeed later. A full disk, a
    /// refused permission or a request the store rejects fails the same way every time.
    pub fn may_pass(&self) -> bool {
        match self {
            StorageError::Io(error) => {
                !self.is_out_of_space() && error.kind() != std::io::ErrorKind::PermissionDenied
            }
            StorageError::Transport(_) | StorageError::BadResponse(_) | StorageError::Journal(_) => true,
            StorageError::S3 { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            StorageError::InvalidTtl => false,
        }
    }

    /// The local disk (or the user's quota on it) is full.
    pub fn is_out_of_space(&self) -> bool {
        use std::io::ErrorKind;
        matches!(self, StorageError::Io(e) if matches!(
            e.kind(),
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
        ))
    }
}

impl From<reqwest::Error> for StorageError {
    /// reqwest's message quotes the request URL, which for S3 is a presigned URL whose signature
    /// would work for anyone reading the log: it is dropped here, once, for every caller.
    fn from(error: reqwest::Error) -> Self {
        StorageError::Transport(error.without_url())
    }
}

/// Where finished exports live.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    Fs(fs::FsStore),
    S3(s3::S3Store),
}

impl ObjectStore {
    /// Starts writing `key`. Nothing is visible at `key` until [`ObjectWriter::finish`];
    /// dropping or aborting the writer leaves nothing behind.
    pub async fn writer(&self, key: &ObjectKey, content_type: &str) -> Result<ObjectWriter, StorageError> {
        Ok(match self {
            ObjectStore::Fs(store) => ObjectWriter::Fs(store.writer(key).await?),
            ObjectStore::S3(store) => ObjectWriter::S3(store.writer(key, content_type)),
        })
    }

    /// Streams `body` into `key`; returns the object's size. On any error nothing stays.
    pub async fn put_stream<E>(
        &self,
        key: &ObjectKey,
        content_type: &str,
        body: impl Stream<Item = Result<bytes::Bytes, E>>,
    ) -> Result<u64, StorageError>
    where
        E: Into<StorageError>,
    {
        let mut writer = self.writer(key, content_type).await?;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let written = match chunk {
                Ok(chunk) => writer.write(&chunk).await,
                Err(error) => Err(error.into()),
            };
            if let Err(error) = written {
                writer.abort().await;
                return Err(error);
            }
        }
        writer.finish().await
    }

    /// Removes `key`; removing what is not there is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self {
            ObjectStore::Fs(store) => store.delete(key).await,
            ObjectStore::S3(store) => store.delete(key).await,
        }
    }

    /// Whether the store can be written to and read from now (for `/readyz`).
    pub async fn ready(&self) -> Result<(), StorageError> {
        match self {
            ObjectStore::Fs(store) => store.ready().await,
            ObjectStore::S3(store) => store.ready().await,
        }
    }

    /// Aborts multipart upload `upload_id` of `key`, noted by a writer that never finished it
    /// (see [`UploadJournal`]); aborting one that is already gone is not an error.
    pub async fn abort_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), StorageError> {
        match self {
            // The local store has no uploads: a dead writer's temporary file goes with
            // `delete(key)`.
            ObjectStore::Fs(_) => Ok(()),
            ObjectStore::S3(store) => store.abort_multipart(key, upload_id).await,
        }
    }

    /// Whether `key` holds a finished object.
    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        match self {
            ObjectStore::Fs(store) => store.exists(key).await,
            ObjectStore::S3(store) => store.exists(key).await,
        }
    }

    /// The origin signed URLs point at when it is not the app's own (S3), for the pages'
    /// `form-action`: a download form's answer redirects there.
    pub fn download_origin(&self) -> Option<String> {
        match self {
            ObjectStore::Fs(_) => None,
            ObjectStore::S3(store) => Some(store.origin()),
        }
    }

    /// A URL that downloads `key` as `download_name` until `ttl` has passed. Signed anew on
    /// every call; never log it.
    pub fn signed_get_url(
        &self,
        key: &ObjectKey,
        ttl: Duration,
        download_name: &str,
    ) -> Result<String, StorageError> {
        if ttl.is_zero() || ttl > MAX_SIGNED_URL_TTL {
            return Err(StorageError::InvalidTtl);
        }
        Ok(match self {
            ObjectStore::Fs(store) => store.signed_get_url(key, ttl, download_name),
            ObjectStore::S3(store) => store.signed_get_url(key, ttl, download_name),
        })
    }
}

/// Where a writer notes each multipart upload it opens, before sending any part, and forgets it
/// once the upload is completed or aborted. A process killed mid-upload thus leaves a note from
/// which another aborts the upload ([`ObjectStore::abort_upload`]) instead of leaving its parts
/// in the bucket for good.
pub trait UploadJournal: Send + Sync {
    /// Notes an open upload; an error stops the upload (it is aborted at once).
    fn opened<'a>(
        &'a self,
        key: &'a ObjectKey,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>>;
    /// Forgets an upload that has been completed or aborted.
    fn closed<'a>(&'a self, upload_id: &'a str) -> BoxFuture<'a, ()>;
}

/// An object being written.
#[derive(Debug)]
pub enum ObjectWriter {
    Fs(fs::FsWriter),
    S3(s3::S3Writer),
}

impl ObjectWriter {
    /// Notes the multipart uploads this writer opens in `journal` (the local store has none).
    pub fn with_journal(self, journal: Arc<dyn UploadJournal>) -> ObjectWriter {
        match self {
            ObjectWriter::Fs(writer) => ObjectWriter::Fs(writer),
            ObjectWriter::S3(writer) => ObjectWriter::S3(writer.with_journal(journal)),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        match self {
            ObjectWriter::Fs(writer) => writer.write(bytes).await,
            ObjectWriter::S3(writer) => writer.write(bytes).await,
        }
    }

    /// Makes the object visible at its key; returns its size.
    pub async fn finish(self) -> Result<u64, StorageError> {
        match self {
            ObjectWriter::Fs(writer) => writer.finish().await,
            ObjectWriter::S3(writer) => writer.finish().await,
        }
    }

    /// Throws away what was written.
    pub async fn abort(self) {
        match self {
            ObjectWriter::Fs(writer) => writer.abort().await,
            ObjectWriter::S3(writer) => writer.abort().await,
        }
    }
}
