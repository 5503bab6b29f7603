//! Exports: asynchronous, audited data exports for behavioural-health organisations.
//!
//! A guided tour of the modules:
//! - [`app`]: the HTML shell, the router and its routes — what both server and browser render.
//! - [`ui`]: pages and components (the Data Exports page lives in `ui::pages::exports`).
//! - [`error`]: the app's one error type, shared by server functions and the client.
//! - [`api`]: the server functions (exports, signing in and out), each behind the guard.
//! - [`auth`]: permissions, the signed-in user; server side: sessions, passwords, throttling,
//!   sign-in and the guard every server function calls.
//! - [`exports`]: export requests: the model, the catalog, the scope, and (server side) their
//!   queries, queue and files.
//! - [`disclosures`]: the accounting of disclosures: which exports carried a client's records
//!   (the model; server side: the ledger written with each completion, its reading and files).
//! - [`routes`]: the app's paths, named once.
//! - [`format`]: numbers as people read them (thousands, bytes, download counts).
//! - [`records`]: the organisation's records and the PHI/PII class of every column.
//! - `db` (server): SQLite or Postgres pool and migrations.
//! - `audit` (server): the append-only audit log.
//! - `engine` (server): the export worker and the pipeline that streams rows into CSV, XLSX or JSON.
//! - `storage` (server): the object store (local disk or S3) and signed download URLs.
//! - `metrics` (server): Prometheus counters of exports and the queue's depth.
//! - `retry` (server): the back-off and attempt budget for work that failed for a passing reason.
//! - `seed` (server): demo organisations, users and synthetic records.
//! - `config` (server): one typed configuration read from `Leptos.toml` and the environment.
//! - `state` (server): `AppState`, connected once at start: configuration, database, store.
//! - `server` (server): the axum router, health check, logging and graceful shutdown.
//! - `cli` (server): the binary's subcommands.

// Leptos views are deeply nested types; the release WASM build of the page overflowed the
// default query depth of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod auth;
pub mod disclosures;
pub mod error;
pub mod exports;
pub mod format;
pub mod records;
pub mod routes;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod engine;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod retry;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod storage;

/// Browser entry point: starts the reactive system for the page's islands, which the loader in
/// `app::shell` then hydrates one by one (the rest of the page is the server's HTML).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
