//! Export requests: the shared model, the catalog of what can be exported, and the server
//! functions that list, create, delete and sign downloads. The worker that produces the files
//! consumes the same rows.

pub mod api;
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod deletions;
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
