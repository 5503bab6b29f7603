//! Export requests: the shared model, the catalog of what can be exported and the scope of an
//! export; on the server, their queries, the queue, and the notes of files and uploads. The
//! server functions over them are `api::exports`; the worker consumes the same rows.

pub mod catalog;
#[cfg(feature = "ssr")]
pub mod deletions;
#[cfg(feature = "ssr")]
pub mod lifecycle;
#[cfg(feature = "ssr")]
pub mod limits;
pub mod model;
#[cfg(feature = "ssr")]
pub mod queue;
#[cfg(feature = "ssr")]
pub mod repo;
pub mod scope;
#[cfg(feature = "ssr")]
pub mod stored;
#[cfg(feature = "ssr")]
pub mod uploads;
