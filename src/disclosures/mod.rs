//! The accounting of disclosures (45 CFR 164.528): for any client, every identified export that
//! carried their records — when, to whom, why, at whose request — kept six years whatever
//! happens to the export's history row or file.
//!
//! - [`model`]: the accounting as the page and its files show it (client and server).
//! - `ledger` (server): written with an export's completion, read for one client, swept.
//! - `bits` (server): an export's clients as bits over dense per-organisation numbers.
//! - `clients` (server): finding the client by record number or name.
//! - `period` (server): the period asked for, by default the retention's length back from today.
//! - `accounting` (server): the ledger's entries as rows, CSV and a letter.

pub mod model;

#[cfg(feature = "ssr")]
pub mod accounting;
#[cfg(feature = "ssr")]
pub mod bits;
#[cfg(feature = "ssr")]
pub mod clients;
#[cfg(feature = "ssr")]
pub mod ledger;
#[cfg(feature = "ssr")]
pub mod period;
