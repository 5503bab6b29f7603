//! The embedded default store: files under `<root>/<bucket>/`, written under a hidden temporary
//! name beside their key (`.<name>.partial`) and renamed into place when complete; downloaded
//! through URLs the app signs (HMAC-SHA256 over bucket, key, expiry and file name) and serves
//! itself.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Path as UrlPath, Query, Request, State},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::{ObjectKey, ObjectStore, StorageError, disposition};

/// Where the app serves signed downloads: `/files/{bucket}/{key}?expires=…&name=…&sig=…`.
pub const ROUTE: &str = "/files/{bucket}/{*key}";

#[derive(Clone)]
pub struct FsStore {
    bucket: String,
    /// `<root>/<bucket>`: every object lives below it.
    dir: PathBuf,
    secret: Arc<[u8]>,
}

impl std::fmt::Debug for FsStore {
    // The secret stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsStore")
            .field("bucket", &self.bucket)
            .field("dir", &self.dir)
            .finish()
    }
}

impl FsStore {
    /// A store for `bucket` under `root`, signing with `secret` (at least 32 bytes).
    pub async fn open(root: &Path, bucket: &str, secret: Vec<u8>) -> Result<FsStore, StorageError> {
        let dir = root.join(bucket);
        // Owner only: the bucket holds PHI.
        tokio::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .await?;
        Ok(FsStore {
            bucket: bucket.to_owned(),
            dir,
            secret: secret.into(),
        })
    }

    /// Whether the bucket's directory is there and writable.
    pub async fn ready(&self) -> Result<(), StorageError> {
        let probe = self.dir.join(format!(".ready-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&probe, b"").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        // Safe: an ObjectKey is three segments of UUIDs and [A-Za-z0-9._-], never `..`.
        self.dir.join(key.as_str())
    }

    /// Where `key` is written until complete. One per key: every attempt writes its own key, so
    /// a killed writer's leftover is found (and removed with [`FsStore::delete`]) by name.
    fn partial_path(&self, key: &ObjectKey) -> PathBuf {
        let path = self.path(key);
        let name = path.file_name().expect("keys name files").to_string_lossy();
        path.with_file_name(format!(".{name}.partial"))
    }

    pub async fn writer(&self, key: &ObjectKey) -> Result<FsWriter, StorageError> {
        let path = self.path(key);
        let parent = path.parent().expect("keys have directories");
        tokio::fs::create_dir_all(parent).await?;
        let temp = self.partial_path(key);
        // Exports hold PHI: readable by the owner only.
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .await?;
        Ok(FsWriter {
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            temp,
            path,
            written: 0,
            settled: false,
        })
    }

    /// Removes `key` and whatever a writer killed while writing it left.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let path = self.path(key);
        for file in [self.partial_path(key), path.clone()] {
            match tokio::fs::remove_file(&file).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Tidy the now-empty export directory; a non-empty one simply stays.
        if let Some(parent) = path.parent() {
            let _ = tokio::fs::remove_dir(parent).await;
        }
        Ok(())
    }

    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        Ok(tokio::fs::try_exists(self.path(key)).await?)
    }

    fn signature(&self, key: &str, expires: u64, name: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        // Length-prefixed fields: no two different inputs share a message.
        for field in [self.bucket.as_str(), key, &expires.to_string(), name] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    pub fn signed_get_url(&self, key: &ObjectKey, ttl: Duration, download_name: &str) -> String {
        let expires = unix_now() + ttl.as_secs();
        let name = disposition::clean(download_name);
        let sig = URL_SAFE_NO_PAD.encode(
            self.signature(key.as_str(), expires, &name)
                .finalize()
                .into_bytes(),
        );
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("expires", &expires.to_string())
            .append_pair("name", &name)
            .append_pair("sig", &sig)
            .finish();
        format!("/files/{}/{}?{query}", self.bucket, key)
    }

    /// The file behind a signed URL, or why not. Signatures are compared in constant time.
    fn verify(&self, bucket: &str, key: &str, query: &DownloadQuery) -> Result<PathBuf, Denied> {
        let (Some(expires), Some(name), Some(sig)) = (
            query.expires.as_deref(),
            query.name.as_deref(),
            query.sig.as_deref(),
        ) else {
            return Err(Denied::Invalid);
        };
        let expires: u64 = expires.parse().map_err(|_| Denied::Invalid)?;
        let key = ObjectKey::parse(key).ok_or(Denied::Invalid)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Denied::Invalid)?;
        if bucket != self.bucket {
            return Err(Denied::Invalid);
        }
        self.signature(key.as_str(), expires, name)
            .verify_slice(&sig)
            .map_err(|_| Denied::Invalid)?;
        if unix_now() >= expires {
            return Err(Denied::Expired);
        }
        Ok(self.path(&key))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// An object being written to a temporary file beside its final path. Dropped before it is
/// finished or aborted (a cancelled job, even mid-finish), it removes the temporary file.
#[derive(Debug)]
pub struct FsWriter {
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    temp: PathBuf,
    path: PathBuf,
    written: u64,
    /// Renamed into place or removed: nothing left for `drop` to clean.
    settled: bool,
}

impl FsWriter {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let file = self.file.as_mut().expect("not finished");
        file.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Flushes, syncs and renames into place: the object appears whole or not at all.
    pub async fn finish(mut self) -> Result<u64, StorageError> {
        let mut file = self.file.take().expect("not finished");
        file.flush().await?;
        file.get_mut().sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temp, &self.path).await?;
        self.settled = true;
        Ok(self.written)
    }

    pub async fn abort(mut self) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.temp).await;
        self.settled = true;
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        if !self.settled {
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    expires: Option<String>,
    name: Option<String>,
    sig: Option<String>,
}

enum Denied {
    Invalid,
    Expired,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let message = match self {
            Denied::Invalid => {
                "This download link is not valid. Request a new one from the Data Exports page."
            }
            Denied::Expired => {
                "This download link has expired. Request a new one from the Data Exports page."
            }
        };
        let mut response = (StatusCode::FORBIDDEN, message).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// `GET /files/{bucket}/{key}`: serves a signed download (with range requests) from the local store.
pub async fn download(
    State(store): State<ObjectStore>,
    UrlPath((bucket, key)): UrlPath<(String, String)>,
    Query(query): Query<DownloadQuery>,
    request: Request,
) -> Response {
    let ObjectStore::Fs(store) = store else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let path = match store.verify(&bucket, &key, &query) {
        Ok(path) => path,
        Err(denied) => return denied.into_response(),
    };
    let name = query.name.unwrap_or_default();
    let mut response = match ServeFile::new(&path).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        return (StatusCode::NOT_FOUND, "This export no longer exists.").into_response();
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&disposition::attachment(&name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
