//! Where finished exports are stored (local disk or an S3-compatible store), how long download
//! links live, and the key that signs the local store's links.

use std::{path::Path, path::PathBuf, time::Duration};

use super::source::{ConfigError, Source, redacted};

/// The longest a download link may live: S3 presigned URLs allow at most 7 days.
pub const MAX_SIGNED_URL_TTL: Duration = Duration::from_secs(604_800);

/// Multipart part size on S3 unless `S3_PART_SIZE` says otherwise (S3's minimum is 5 MiB).
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// The object store and its links.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageSettings {
    /// `[app] storage-url`: `file://DIR` or `s3://BUCKET?endpoint=…` (default: local disk under
    /// the data directory), with `[app] storage-bucket` (default `pf-exports`).
    pub backend: StorageBackend,
    /// How long a download link stays valid. `[app] signed-url-ttl-secs` (one hour, at most 7 days).
    pub signed_url_ttl: Duration,
    /// Key for the local store's download links (32+ bytes). Required in production; in
    /// development one is generated under the data directory. `SIGNING_SECRET`.
    pub signing_secret: Option<String>,
}

/// Which store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// Files under `root/<bucket>/`, served by the app through signed URLs.
    Fs { root: PathBuf, bucket: String },
    /// An S3-compatible store.
    S3(S3Settings),
}

/// Where and how to reach an S3-compatible store.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: url::Url,
    pub bucket: String,
    pub region: String,
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub part_size: usize,
    /// Server-side encryption asked for on every upload (`S3_SSE`), if any.
    pub encryption: Option<Encryption>,
}

/// Server-side encryption of stored objects (`x-amz-server-side-encryption`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// `S3_SSE=AES256`: keys managed by the store (SSE-S3).
    Aes256,
    /// `S3_SSE=aws:kms`: a KMS key, the account's default unless `S3_SSE_KMS_KEY_ID` names one.
    Kms { key_id: Option<String> },
}

impl Encryption {
    /// The request headers that ask for it.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Encryption::Aes256 => vec![("x-amz-server-side-encryption", "AES256".to_owned())],
            Encryption::Kms { key_id } => {
                let mut headers = vec![("x-amz-server-side-encryption", "aws:kms".to_owned())];
                if let Some(key_id) = key_id {
                    headers.push(("x-amz-server-side-encryption-aws-kms-key-id", key_id.clone()));
                }
                headers
            }
        }
    }
}

impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSettings")
            .field("backend", &self.backend)
            .field("signed_url_ttl", &self.signed_url_ttl)
            .field("signing_secret", &redacted(&self.signing_secret))
            .finish()
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field("part_size", &self.part_size)
            .field("encryption", &self.encryption)
            .finish()
    }
}

impl StorageSettings {
    pub fn load(source: &Source, data_dir: &Path, production: bool) -> Result<StorageSettings, ConfigError> {
        let bucket = source.or("storage-bucket", "pf-exports".to_owned())?;
        let backend = match source.get::<String>("storage-url")? {
            Some(url) => parse_storage_url(source, &url, &bucket)?,
            None => StorageBackend::Fs {
                root: data_dir.join("storage"),
                bucket,
            },
        };
        let signed_url_ttl = source.secs("signed-url-ttl-secs", 3600)?;
        if signed_url_ttl > MAX_SIGNED_URL_TTL {
            return Err(ConfigError::invalid(
                "SIGNED_URL_TTL_SECS",
                "must be at most 604800 (7 days), the longest S3 allows",
            ));
        }
        let signing_secret = source.env_only("SIGNING_SECRET");
        if signing_secret.as_ref().is_some_and(|secret| secret.len() < 32) {
            return Err(ConfigError::invalid(
                "SIGNING_SECRET",
                "must be at least 32 bytes",
            ));
        }
        if production && signing_secret.is_none() && matches!(backend, StorageBackend::Fs { .. }) {
            return Err(ConfigError::invalid(
                "SIGNING_SECRET",
                "production mode signs download links with a secret you provide (32+ random bytes)",
            ));
        }
        Ok(StorageSettings {
            backend,
            signed_url_ttl,
            signing_secret,
        })
    }
}

/// `file://path` (relative paths allowed) or `s3://bucket?endpoint=…&region=…&style=path|virtual`,
/// with S3 credentials from `S3_ACCESS_KEY_ID` / `S3_SECRET_ACCESS_KEY`.
fn parse_storage_url(source: &Source, text: &str, bucket: &str) -> Result<StorageBackend, ConfigError> {
    let invalid = |message: String| ConfigError::invalid("STORAGE_URL", message);
    if let Some(path) = text.strip_prefix("file://") {
        if path.is_empty() {
            return Err(invalid("file:// needs a directory".into()));
        }
        return Ok(StorageBackend::Fs {
            root: PathBuf::from(path),
            bucket: bucket.to_owned(),
        });
    }
    let url = url::Url::parse(text).map_err(|e| invalid(format!("not a URL ({e})")))?;
    if url.scheme() != "s3" {
        return Err(invalid("must start with file:// or s3://".into()));
    }
    let bucket = url
        .host_str()
        .filter(|host| !host.is_empty())
        .unwrap_or(bucket)
        .to_owned();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let region = query.get("region").cloned().unwrap_or_else(|| "us-east-1".into());
    let endpoint = match query.get("endpoint") {
        Some(endpoint) => endpoint.clone(),
        None => format!("https://s3.{region}.amazonaws.com"),
    };
    let endpoint = url::Url::parse(&endpoint).map_err(|e| invalid(format!("endpoint is not a URL ({e})")))?;
    let path_style = match query.get("style").map(String::as_str) {
        Some("path") => true,
        Some("virtual") => false,
        None => query.contains_key("endpoint"),
        Some(other) => return Err(invalid(format!("style must be path or virtual, not {other:?}"))),
    };
    let credential = |name: &str, aws: &str| {
        source
            .env_only(name)
            .or_else(|| source.env_only(aws))
            .ok_or_else(|| ConfigError::invalid(name, "is required with an s3:// STORAGE_URL"))
    };
    Ok(StorageBackend::S3(S3Settings {
        endpoint,
        bucket,
        region,
        path_style,
        access_key_id: credential("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")?,
        secret_access_key: credential("S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")?,
        part_size: source
            .env_only_parsed("S3_PART_SIZE")?
            .unwrap_or(DEFAULT_PART_SIZE),
        encryption: encryption(source)?,
    }))
}

/// `S3_SSE` (`AES256` or `aws:kms`) and `S3_SSE_KMS_KEY_ID` (only with `aws:kms`).
fn encryption(source: &Source) -> Result<Option<Encryption>, ConfigError> {
    let key_id = source
        .env_only("S3_SSE_KMS_KEY_ID")
        .filter(|id| !id.trim().is_empty());
    match source.env_only("S3_SSE").as_deref().map(str::trim) {
        None | Some("") if key_id.is_some() => {
            Err(ConfigError::invalid("S3_SSE_KMS_KEY_ID", "needs S3_SSE=aws:kms"))
        }
        None | Some("") => Ok(None),
        Some("AES256") if key_id.is_some() => Err(ConfigError::invalid(
            "S3_SSE_KMS_KEY_ID",
            "needs S3_SSE=aws:kms, not AES256",
        )),
        Some("AES256") => Ok(Some(Encryption::Aes256)),
        Some("aws:kms") => Ok(Some(Encryption::Kms { key_id })),
        Some(other) => Err(ConfigError::invalid(
            "S3_SSE",
            format!("must be AES256 or aws:kms, not {other:?}"),
        )),
    }
}
