//! One module per route.

pub mod exports;
pub mod login;
pub mod not_found;
