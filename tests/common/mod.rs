//! Support shared by the integration test crates, one concern per submodule, everything re-exported here.

// Each tests/*.rs is a crate of its own and uses only some of these (an unused re-export is an
// unused import).
#![allow(dead_code, unused_imports)]

mod app;
mod binary;
mod databases;
mod files;
mod fixtures;
mod poll;
mod queries;
mod readback;
mod requests;
mod s3;

pub use app::*;
pub use binary::*;
pub use databases::*;
pub use files::*;
pub use fixtures::*;
pub use poll::*;
pub use queries::*;
pub use readback::*;
pub use requests::*;
pub use s3::*;
