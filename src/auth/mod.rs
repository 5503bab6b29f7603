//! Who the user is and what they may do: permissions and the signed-in user ([`model`]). The
//! server functions of signing in and out are `api::auth`.
//!
//! Server-only parts: [`guard`] (the one check every server function makes), [`sign_in`]
//! (credentials, throttling and session rotation), [`request`] (what a request says about its
//! client), [`accounts`] (users, organisations, memberships), [`password`] (argon2id),
//! [`session`] (database-backed sessions and their cookie), [`throttle`] (failed sign-ins) and
//! [`housekeeping`] (removing both once stale).

pub mod model;

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod housekeeping;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod sign_in;
#[cfg(feature = "ssr")]
pub mod throttle;

// The model's two types are named from the crate root of this area too (`auth::Permission`).
pub use model::{CurrentUser, Permission};
