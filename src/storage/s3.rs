//! Any S3-compatible store (AWS S3, MinIO, Garage, Cloudflare R2): rusty-s3 signs each request,
//! reqwest carries it. Large objects go up as multipart uploads, aborted on failure so nothing
//! partial stays, and noted in an [`UploadJournal`] while open so that even a killed process's
//! upload is aborted by another.

use std::{sync::Arc, time::Duration};

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{ObjectKey, StorageError, UploadJournal, disposition};
use crate::config::storage::{Encryption, S3Settings};

/// How long the signature of each request the app itself sends is valid.
const REQUEST_TTL: Duration = Duration::from_secs(15 * 60);
/// S3's smallest part (except the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    bucket: Bucket,
    credentials: Credentials,
    client: reqwest::Client,
    part_size: usize,
    encryption: Option<Encryption>,
}

impl std::fmt::Debug for S3Store {
    // Credentials stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.inner.bucket.name())
            .field("endpoint", &self.inner.bucket.base_url().as_str())
            .finish()
    }
}

impl S3Store {
    pub fn new(settings: &S3Settings) -> Result<S3Store, String> {
        let style = if settings.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            settings.endpoint.clone(),
            style,
            settings.bucket.clone(),
            settings.region.clone(),
        )
        .map_err(|e| format!("invalid S3 bucket settings: {e}"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| format!("cannot build the S3 HTTP client: {e}"))?;
        Ok(S3Store {
            inner: Arc::new(Inner {
                bucket,
                credentials: Credentials::new(&settings.access_key_id, &settings.secret_access_key),
                client,
                part_size: settings.part_size.max(MIN_PART_SIZE),
                encryption: settings.encryption.clone(),
            }),
        })
    }

    pub fn writer(&self, key: &ObjectKey, content_type: &str) -> S3Writer {
        S3Writer {
            store: self.clone(),
            key: key.clone(),
            content_type: content_type.to_owned(),
            buffer: Vec::new(),
            upload: None,
            written: 0,
            journal: None,
        }
    }

    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let inner = &self.inner;
        let url = inner
            .bucket
            .delete_object(Some(&inner.credentials), key.as_str())
            .sign(REQUEST_TTL);
        let response = inner.client.delete(url).send().await?;
        check("DeleteObject", response.status(), &[404]).map(drop)
    }

    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        let inner = &self.inner;
        let url = inner
            .bucket
            .head_object(Some(&inner.credentials), key.as_str())
            .sign(REQUEST_TTL);
        let status = inner.client.head(url).send().await?.status();
        Ok(check("HeadObject", status, &[404])? != 404)
    }

    /// Whether the bucket answers (HeadBucket) with these credentials.
    pub async fn ready(&self) -> Result<(), StorageError> {
        let inner = &self.inner;
        let url = inner
            .bucket
            .head_bucket(Some(&inner.credentials))
            .sign(REQUEST_TTL);
        let status = inner.client.head(url).send().await?.status();
        check("HeadBucket", status, &[])?;
        Ok(())
    }

    /// A presigned GET that makes the browser save the file as `download_name`.
    /// `scheme://host[:port]` of the bucket's URLs (virtual-host style included).
    pub fn origin(&self) -> String {
        self.inner.bucket.base_url().origin().ascii_serialization()
    }

    pub fn signed_get_url(&self, key: &ObjectKey, ttl: Duration, download_name: &str) -> String {
        let inner = &self.inner;
        let mut action = inner.bucket.get_object(Some(&inner.credentials), key.as_str());
        action.query_mut().insert(
            "response-content-disposition",
            disposition::attachment(download_name),
        );
        action.query_mut().insert("response-cache-control", "no-store");
        action.sign(ttl).to_string()
    }

    /// The headers an object's creation sends, signed with it: its type, and the server-side
    /// encryption asked for.
    fn creation_headers(&self, content_type: &str) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", content_type.to_owned())];
        if let Some(encryption) = &self.inner.encryption {
            headers.extend(encryption.headers());
        }
        headers
    }

    /// A signed request that creates an object (`PutObject`, `CreateMultipartUpload`): every
    /// header it sends is among the signed ones, as S3 requires of `x-amz-*` headers.
    fn creation_request<'a, A: S3Action<'a>>(
        &self,
        mut action: A,
        content_type: &str,
    ) -> (url::Url, Vec<(&'static str, String)>) {
        let headers = self.creation_headers(content_type);
        for (name, value) in &headers {
            action.headers_mut().insert(*name, value.clone());
        }
        (action.sign(REQUEST_TTL), headers)
    }

    async fn put_object(
        &self,
        key: &ObjectKey,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        let action = inner.bucket.put_object(Some(&inner.credentials), key.as_str());
        let (url, headers) = self.creation_request(action, content_type);
        let mut request = inner.client.put(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await?;
        check("PutObject", response.status(), &[]).map(drop)
    }

    async fn create_multipart(&self, key: &ObjectKey, content_type: &str) -> Result<String, StorageError> {
        let inner = &self.inner;
        let action = inner
            .bucket
            .create_multipart_upload(Some(&inner.credentials), key.as_str());
        let (url, headers) = self.creation_request(action, content_type);
        let mut request = inner.client.post(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        check("CreateMultipartUpload", response.status(), &[])?;
        let body = response.text().await?;
        let parsed = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|_| StorageError::BadResponse("CreateMultipartUpload"))?;
        Ok(parsed.upload_id().to_owned())
    }

    async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        part_number: u16,
        body: Vec<u8>,
    ) -> Result<String, StorageError> {
        let inner = &self.inner;
        let url = inner
            .bucket
            .upload_part(Some(&inner.credentials), key.as_str(), part_number, upload_id)
            .sign(REQUEST_TTL);
        let response = inner.client.put(url).body(body).send().await?;
        check("UploadPart", response.status(), &[])?;
        response
            .headers()
            .get(http::header::ETAG)
            .and_then(|etag| etag.to_str().ok())
            .map(str::to_owned)
            .ok_or(StorageError::BadResponse("UploadPart"))
    }

    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        let action = inner.bucket.complete_multipart_upload(
            Some(&inner.credentials),
            key.as_str(),
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(REQUEST_TTL);
        let response = inner.client.post(url).body(action.body()).send().await?;
        let status = response.status();
        // S3 can answer 200 with an error document when completion fails late.
        let body = response.text().await?;
        check("CompleteMultipartUpload", status, &[])?;
        if body.contains("<Error>") {
            return Err(StorageError::BadResponse("CompleteMultipartUpload"));
        }
        Ok(())
    }

    pub(super) async fn abort_multipart(&self, key: &ObjectKey, upload_id: &str) -> Result<(), StorageError> {
        let inner = &self.inner;
        let url = inner
            .bucket
            .abort_multipart_upload(Some(&inner.credentials), key.as_str(), upload_id)
            .sign(REQUEST_TTL);
        let status = inner.client.delete(url).send().await?.status();
        // An upload that no longer exists (completed, or aborted already) is 404 NoSuchUpload on
        // S3; some compatible stores (s3s-fs) answer 403 instead, as S3 does when the
        // credentials may not abort. So a 403 is believed only once ListParts confirms that
        // nothing is left under the upload; otherwise its note stays, to be tried again.
        if status == reqwest::StatusCode::FORBIDDEN {
            return match self.parts_left(key, upload_id).await? {
                0 => Ok(()),
                _ => Err(StorageError::S3 {
                    operation: "AbortMultipartUpload",
                    status: 403,
                }),
            };
        }
        check("AbortMultipartUpload", status, &[404]).map(drop)
    }

    /// How many parts an upload still holds (ListParts): 0 when it is gone (404 NoSuchUpload).
    async fn parts_left(&self, key: &ObjectKey, upload_id: &str) -> Result<usize, StorageError> {
        let inner = &self.inner;
        let url = rusty_s3::actions::ListParts::new(
            &inner.bucket,
            Some(&inner.credentials),
            key.as_str(),
            upload_id,
        )
        .sign(REQUEST_TTL);
        let response = inner.client.get(url).send().await?;
        if check("ListParts", response.status(), &[404])? == 404 {
            return Ok(0);
        }
        // Counted rather than parsed: compatible stores leave out fields a strict reader wants
        // (s3s-fs has no MaxParts), and only whether any part is left matters.
        let body = response.text().await?;
        if !body.contains("ListPartsResult") {
            return Err(StorageError::BadResponse("ListParts"));
        }
        Ok(body.matches("<Part>").count())
    }
}

/// The status as a number when it is a success or one of `allowed`; otherwise an error.
fn check(operation: &'static str, status: reqwest::StatusCode, allowed: &[u16]) -> Result<u16, StorageError> {
    if status.is_success() || allowed.contains(&status.as_u16()) {
        Ok(status.as_u16())
    } else {
        Err(StorageError::S3 {
            operation,
            status: status.as_u16(),
        })
    }
}

/// A multipart upload in progress.
#[derive(Debug)]
struct Upload {
    id: String,
    etags: Vec<String>,
}

/// An object being uploaded: buffered up to one part, then sent part by part.
pub struct S3Writer {
    store: S3Store,
    key: ObjectKey,
    content_type: String,
    buffer: Vec<u8>,
    upload: Option<Upload>,
    written: u64,
    journal: Option<Arc<dyn UploadJournal>>,
}

impl std::fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Writer")
            .field("key", &self.key)
            .field("written", &self.written)
            .finish()
    }
}

impl S3Writer {
    pub fn with_journal(mut self, journal: Arc<dyn UploadJournal>) -> S3Writer {
        self.journal = Some(journal);
        self
    }

    pub async fn write(&mut self, mut bytes: &[u8]) -> Result<(), StorageError> {
        let part_size = self.store.inner.part_size;
        while !bytes.is_empty() {
            let room = part_size - self.buffer.len();
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.buffer.extend_from_slice(now);
            self.written += now.len() as u64;
            bytes = later;
            if self.buffer.len() == part_size {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<(), StorageError> {
        if self.upload.is_none() {
            let id = self.store.create_multipart(&self.key, &self.content_type).await?;
            if let Some(journal) = &self.journal
                && let Err(error) = journal.opened(&self.key, &id).await
            {
                // Unnoted, it must not hold a single part.
                let _ = self.store.abort_multipart(&self.key, &id).await;
                return Err(error);
            }
            self.upload = Some(Upload {
                id,
                etags: Vec::new(),
            });
        }
        let upload = self.upload.as_mut().expect("created above");
        let part_number =
            u16::try_from(upload.etags.len() + 1).map_err(|_| StorageError::BadResponse("too many parts"))?;
        let body = std::mem::take(&mut self.buffer);
        let etag = self
            .store
            .upload_part(&self.key, &upload.id, part_number, body)
            .await?;
        upload.etags.push(etag);
        Ok(())
    }

    /// Sends what is left and completes the upload; on failure, aborts it.
    pub async fn finish(mut self) -> Result<u64, StorageError> {
        let result = self.complete().await;
        if result.is_err() {
            self.abort_upload().await;
        }
        if let Some(upload) = self.upload.take()
            && let Some(journal) = &self.journal
        {
            journal.closed(&upload.id).await;
        }
        result.map(|()| self.written)
    }

    async fn complete(&mut self) -> Result<(), StorageError> {
        if self.upload.is_none() {
            let body = std::mem::take(&mut self.buffer);
            return self.store.put_object(&self.key, &self.content_type, body).await;
        }
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        let upload = self.upload.as_ref().expect("multipart");
        self.store
            .complete_multipart(&self.key, &upload.id, &upload.etags)
            .await
    }

    pub async fn abort(mut self) {
        self.abort_upload().await;
    }

    /// Aborts the open upload, if any, and forgets it; if the abort fails the journal keeps its
    /// note, so the upload is tried again later.
    async fn abort_upload(&mut self) {
        if let Some(upload) = self.upload.take() {
            abort_noted(&self.store, &self.key, &upload.id, self.journal.as_deref()).await;
        }
    }
}

/// Aborts an upload and, once it is gone, forgets its note.
async fn abort_noted(store: &S3Store, key: &ObjectKey, upload_id: &str, journal: Option<&dyn UploadJournal>) {
    match store.abort_multipart(key, upload_id).await {
        Ok(()) => {
            if let Some(journal) = journal {
                journal.closed(upload_id).await;
            }
        }
        Err(error) => tracing::warn!(
            %error,
            "could not abort a multipart upload; left to a later sweep of its note (or the bucket's lifecycle rule)"
        ),
    }
}

impl Drop for S3Writer {
    /// A writer dropped mid-upload (a cancelled job) aborts its multipart upload in the background.
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (store, key, journal) = (self.store.clone(), self.key.clone(), self.journal.clone());
            runtime.spawn(async move {
                abort_noted(&store, &key, &upload.id, journal.as_deref()).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(encryption: Option<Encryption>) -> S3Store {
        S3Store::new(&S3Settings {
            endpoint: "http://127.0.0.1:9000".parse().unwrap(),
            bucket: "pf-exports".into(),
            region: "us-east-1".into(),
            path_style: true,
            access_key_id: "key".into(),
            secret_access_key: "secret".into(),
            part_size: MIN_PART_SIZE,
            encryption,
        })
        .unwrap()
    }

    /// The signed header names of a presigned URL.
    fn signed_headers(url: &url::Url) -> String {
        url.query_pairs()
            .find(|(name, _)| name == "X-Amz-SignedHeaders")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn object_creations_send_and_sign_the_encryption_asked_for() {
        let kms = Encryption::Kms {
            key_id: Some("arn:aws:kms:us-east-1:111122223333:key/k".into()),
        };
        for (encryption, expected) in [
            (None, vec![]),
            (
                Some(Encryption::Aes256),
                vec![("x-amz-server-side-encryption", "AES256")],
            ),
            (
                Some(kms),
                vec![
                    ("x-amz-server-side-encryption", "aws:kms"),
                    (
                        "x-amz-server-side-encryption-aws-kms-key-id",
                        "arn:aws:kms:us-east-1:111122223333:key/k",
                    ),
                ],
            ),
        ] {
            let store = store(encryption);
            let inner = &store.inner;
            let key = ObjectKey::new(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), "export.csv").unwrap();
            let put = inner.bucket.put_object(Some(&inner.credentials), key.as_str());
            let multipart = inner
                .bucket
                .create_multipart_upload(Some(&inner.credentials), key.as_str());
            for (url, headers) in [
                store.creation_request(put, "text/csv"),
                store.creation_request(multipart, "text/csv"),
            ] {
                let signed = signed_headers(&url);
                assert!(signed.split(';').any(|name| name == "content-type"), "{signed}");
                for (name, value) in &expected {
                    assert!(headers.contains(&(*name, (*value).to_owned())), "{headers:?}");
                    assert!(
                        signed.split(';').any(|signed| signed == *name),
                        "{name} unsigned: {signed}"
                    );
                }
                let sent = headers
                    .iter()
                    .filter(|(name, _)| name.starts_with("x-amz-server-side"))
                    .count();
                assert_eq!(sent, expected.len());
            }
        }
    }
}
