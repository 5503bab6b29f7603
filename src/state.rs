//! The application's state: configuration, database, object store and the worker's wake-up,
//! connected once at start and shared by every handler, server function and render.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::{LeptosOptions, use_context};

use crate::{
    config::{Config, StorageBackend},
    db::{Db, redact_url},
    error::AppError,
    storage::{ObjectStore, fs::FsStore, s3::S3Store},
};

/// What every handler and server function can reach.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Db,
    pub storage: ObjectStore,
    /// Rung when a request is queued, so this process's idle worker starts on it at once.
    pub new_requests: Arc<tokio::sync::Notify>,
    /// The last readiness probe and when it ran: `/readyz` probes at most once a second, however
    /// often it is asked (the local store's probe writes a file).
    pub readiness: Arc<tokio::sync::Mutex<Option<(std::time::Instant, Readiness)>>>,
}

/// What the last readiness probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub storage: bool,
}

impl AppState {
    pub fn new(config: Config, db: Db, storage: ObjectStore) -> Self {
        AppState {
            leptos_options: config.leptos_options.clone(),
            config: Arc::new(config),
            db,
            storage,
            new_requests: Arc::default(),
            readiness: Arc::default(),
        }
    }

    /// The state inside a server function or a server-side render.
    pub fn from_context() -> Result<AppState, AppError> {
        use_context::<AppState>()
            .ok_or_else(|| AppError::internal("server function", "no AppState in context"))
    }

    /// Connects to the configured database and brings its schema up to date.
    pub async fn connect(config: Config) -> Result<AppState, Box<dyn std::error::Error>> {
        let url = &config.server.database_url;
        if config.production() && url.starts_with("postgres") && !url.contains("sslmode=") {
            tracing::warn!(
                "DATABASE_URL names no sslmode: PHI may travel to Postgres unencrypted or to an unverified \
                 server; add sslmode=verify-full"
            );
        }
        let db = Db::connect(url, config.server.database_max_connections)
            .await
            .map_err(|e| format!("cannot connect to the database at {}: {e}", redact_url(url)))?;
        db.migrate()
            .await
            .map_err(|e| format!("cannot migrate the database at {}: {e}", redact_url(url)))?;
        let storage = open_storage(&config).await?;
        Ok(AppState::new(config, db, storage))
    }
}

/// Opens the configured object store; the local store's signing key comes from the
/// configuration, or (development only) from a key generated once under the data directory.
async fn open_storage(config: &Config) -> Result<ObjectStore, Box<dyn std::error::Error>> {
    match &config.storage.backend {
        StorageBackend::Fs { root, bucket } => {
            let secret = match &config.storage.signing_secret {
                Some(secret) => secret.as_bytes().to_vec(),
                None => development_signing_key(&config.server.data_dir).await?,
            };
            let store = FsStore::open(root, bucket, secret)
                .await
                .map_err(|e| format!("cannot open the object store at {}: {e}", root.display()))?;
            Ok(ObjectStore::Fs(store))
        }
        StorageBackend::S3(settings) => Ok(ObjectStore::S3(S3Store::new(settings)?)),
    }
}

/// `<data_dir>/signing.key`: 32 random bytes, created on first use, readable by the owner only.
async fn development_signing_key(data_dir: &std::path::Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let path = data_dir.join("signing.key");
    match tokio::fs::read(&path).await {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => return Err(format!("{} is shorter than 32 bytes", path.display()).into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
    }
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .await?;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    let mut file = options.open(&path).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, &key).await?;
    tracing::info!(path = %path.display(), "generated a development signing key for download links");
    Ok(key)
}
