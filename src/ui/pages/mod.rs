//! One module per route.

pub mod disclosures;
pub mod export_confirm;
pub mod export_details;
pub mod exports;
pub mod login;
pub mod not_found;
