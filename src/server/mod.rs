//! The HTTP server: application state, the axum router, the health check, request logging and
//! graceful shutdown.

pub mod middleware;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{FromRef, Request, State},
    middleware::from_fn,
    routing::get,
};
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio_util::sync::CancellationToken;
use tower_http::{limit::RequestBodyLimitLayer, trace::TraceLayer};

/// The largest request body accepted (413 above it).
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

use crate::{
    app::{App, shell},
    config::{Config, StorageSettings},
    db::{Db, redact_url},
    engine::worker::Worker,
    error::AppError,
    storage::{self, ObjectStore, fs::FsStore, s3::S3Store},
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
}

impl AppState {
    pub fn new(config: Config, db: Db, storage: ObjectStore) -> Self {
        AppState {
            leptos_options: config.leptos_options.clone(),
            config: Arc::new(config),
            db,
            storage,
            new_requests: Arc::default(),
        }
    }

    /// The state inside a server function or a server-side render.
    pub fn from_context() -> Result<AppState, AppError> {
        use_context::<AppState>()
            .ok_or_else(|| AppError::internal("server function", "no AppState in context"))
    }

    /// Connects to the configured database and brings its schema up to date.
    pub async fn connect(config: Config) -> Result<AppState, Box<dyn std::error::Error>> {
        let url = &config.database_url;
        let db = Db::connect(url, config.database_max_connections)
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
    match &config.storage {
        StorageSettings::Fs { root, bucket } => {
            let secret = match &config.signing_secret {
                Some(secret) => secret.as_bytes().to_vec(),
                None => development_signing_key(&config.data_dir).await?,
            };
            let store = FsStore::open(root, bucket, secret)
                .await
                .map_err(|e| format!("cannot open the object store at {}: {e}", root.display()))?;
            Ok(ObjectStore::Fs(store))
        }
        StorageSettings::S3(settings) => Ok(ObjectStore::S3(S3Store::new(settings)?)),
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

/// The whole application as one router, so tests can drive exactly what production serves.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(storage::fs::ROUTE, get(storage::fs::download))
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(from_fn(middleware::server_fn_error_status))
        .layer(from_fn(middleware::reject_cross_site))
        .layer(from_fn(middleware::security_headers))
        // No request of this app carries more than a few kilobytes.
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        .layer(
            // Log the method and path only: query strings may carry signatures.
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}

/// `GET /healthz`: the process is up. Answers with the running version.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /readyz`: 200 when the database and the object store both answer, else 503 naming
/// which (never how: no hosts, keys or errors).
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (database, storage) = tokio::join!(state.db.ping(), state.storage.ready());
    if let Err(error) = &storage {
        tracing::warn!(%error, "readiness: object store not ready");
    }
    let ready = database && storage.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "status": if ready { "ready" } else { "unavailable" },
            "database": if database { "ok" } else { "unavailable" },
            "storage": if storage.is_ok() { "ok" } else { "unavailable" },
        })),
    )
}

/// `GET /metrics`: Prometheus text; behind a bearer token when `METRICS_TOKEN` is set.
async fn metrics(State(state): State<AppState>, headers: http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = &state.config.metrics_token {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        // Comparing digests: the time taken says nothing about the token.
        let matches = presented.is_some_and(|presented| {
            use sha2::{Digest, Sha256};
            Sha256::digest(presented.as_bytes()) == Sha256::digest(token.as_bytes())
        });
        if !matches {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    match crate::metrics::METRICS.render(&state.db).await {
        Ok(text) => (
            [(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => AppError::internal("rendering metrics", error).into_response(),
    }
}

/// Binds the configured address and serves (with an export worker unless configured off)
/// until SIGINT or SIGTERM, then drains open requests and lets the worker finish or hand back
/// its exports.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let shutdown = shutdown_token()?;
    let addr = state.config.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local: SocketAddr = listener.local_addr()?;
    let worker = state
        .config
        .worker
        .in_process
        .then(|| tokio::spawn(Worker::new(state.clone()).run(shutdown.clone())));
    tokio::spawn(crate::auth::housekeeping::run(state.db.clone(), shutdown.clone()));
    tracing::info!(database = state.db.backend(), "listening on http://{local}");
    axum::serve(
        listener,
        router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    state.db.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Runs export workers only (no web server) until SIGINT or SIGTERM.
pub async fn work(state: AppState) -> std::io::Result<()> {
    let shutdown = shutdown_token()?;
    Worker::new(state.clone()).run(shutdown).await;
    state.db.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// A token cancelled by the first SIGINT or SIGTERM.
fn shutdown_token() -> std::io::Result<CancellationToken> {
    let signal = shutdown_signal()?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal.await;
        cancel.cancel();
    });
    Ok(token)
}

/// Installs the SIGINT and SIGTERM handlers now, so that a signal arriving the moment after
/// start-up is not lost, and returns a future that resolves on the first of them.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received; finishing open requests and exports");
    })
}
