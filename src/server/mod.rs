//! The HTTP server: the axum router, the health and readiness checks, metrics, request logging
//! and graceful shutdown, for web and worker processes.

mod downloads;
mod listener;
pub mod middleware;

use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{Request, State},
    middleware::from_fn,
    routing::{get, post},
};
use http::StatusCode;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio_util::sync::CancellationToken;
use tower_http::{
    compression::{
        CompressionLayer,
        predicate::{DefaultPredicate, Predicate},
    },
    limit::RequestBodyLimitLayer,
    trace::TraceLayer,
};

/// The largest request body accepted (413 above it).
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

use crate::{
    app::{App, shell},
    engine::worker::{Worker, WorkerContext},
    error::AppError,
    state::{AppState, Readiness},
    storage,
};

/// The whole application as one router, so tests can drive exactly what production serves.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(storage::fs::ROUTE, get(storage::fs::download))
        .route(downloads::ROUTE, post(downloads::download))
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
        // Pages and server functions' answers travel compressed (brotli or gzip, as the browser
        // accepts); the bundle is compressed at build time (`--precompress`) and served as is; a
        // file download (an attachment, which ranges may resume) goes as stored.
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_: StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
                    !headers.contains_key(http::header::CONTENT_DISPOSITION)
                },
            )),
        )
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
    let Readiness { database, storage } = readiness(&state).await;
    let ready = database && storage;
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
            "storage": if storage { "ok" } else { "unavailable" },
        })),
    )
}

/// How long a readiness probe's answer is reused.
const READINESS_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The database's and the store's readiness, probed at most once per [`READINESS_TTL`]: callers
/// in between (and those waiting while a probe runs) share its answer.
async fn readiness(state: &AppState) -> Readiness {
    let mut last = state.readiness.lock().await;
    if let Some((at, found)) = *last
        && at.elapsed() < READINESS_TTL
    {
        return found;
    }
    let (database, storage) = tokio::join!(state.db.ping(), state.storage.ready());
    if let Err(error) = &storage {
        tracing::warn!(%error, "readiness: object store not ready");
    }
    let found = Readiness {
        database,
        storage: storage.is_ok(),
    };
    *last = Some((std::time::Instant::now(), found));
    found
}

/// `GET /metrics`: Prometheus text; behind a bearer token when `METRICS_TOKEN` is set.
async fn metrics(State(state): State<AppState>, headers: http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = &state.config.server.metrics_token {
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
        .then(|| tokio::spawn(Worker::new(WorkerContext::of(&state)).run(shutdown.clone())));
    tokio::spawn(crate::auth::housekeeping::run(state.db.clone(), shutdown.clone()));
    tracing::info!(database = state.db.backend(), "listening on http://{local}");
    let limits = listener::Limits {
        max_connections: state.config.server.max_connections,
        header_read_timeout: state.config.server.header_read_timeout,
    };
    listener::serve(listener, router(state.clone()), limits, shutdown.clone()).await;
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
    Worker::new(WorkerContext::of(&state)).run(shutdown).await;
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
