//! The server functions, the browser's only way in: each checks the session, the permission and
//! the organisation (through `auth::guard`) before anything else. A layer of its own above the
//! domain, so the domain never depends on them.

pub mod auth;
pub mod exports;
