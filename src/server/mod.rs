//! The HTTP server: application state, the axum router, the health check, request logging and
//! graceful shutdown.

mod middleware;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{FromRef, Request},
    middleware::from_fn,
    routing::get,
};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use crate::{
    app::{App, shell},
    config::Config,
    db::{Db, redact_url},
    error::AppError,
};

/// What every handler and server function can reach.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Db,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        AppState {
            leptos_options: config.leptos_options.clone(),
            config: Arc::new(config),
            db,
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
        Ok(AppState::new(config, db))
    }
}

/// The whole application as one router, so tests can drive exactly what production serves.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", get(healthz))
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

/// Binds the configured address and serves until SIGINT or SIGTERM, then drains open requests.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let shutdown = shutdown_signal()?;
    let addr = state.config.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local: SocketAddr = listener.local_addr()?;
    tracing::info!(database = state.db.backend(), "listening on http://{local}");
    axum::serve(
        listener,
        router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    state.db.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
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
        tracing::info!("shutdown signal received; finishing open requests");
    })
}
