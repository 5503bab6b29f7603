//! One module per route.

pub mod exports;
pub mod not_found;
