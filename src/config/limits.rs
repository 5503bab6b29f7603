//! How many exports may be requested (per user and per organisation per hour, and at once), and
//! from how many rows one needs a confirmation.

use super::source::{ConfigError, Source};

/// Limits on requesting exports (each refusal is a 429 with a message saying which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Per user, per rolling hour. `[app] export-limit-per-user-per-hour` (default 30).
    pub per_user_per_hour: u32,
    /// Per organisation, per rolling hour. `[app] export-limit-per-organization-per-hour` (200).
    pub per_organization_per_hour: u32,
    /// Pending or processing at once per organisation.
    /// `[app] export-max-active-per-organization` (default 20).
    pub active_per_organization: u32,
    /// Exports of more rows than this are requested only with a ticked confirmation.
    /// `[app] export-confirm-rows` (default 100,000).
    pub confirm_rows: u64,
    /// The most bytes an organisation's completed files may take before new requests are
    /// refused. `[app] export-storage-quota-bytes` (default 10 GiB).
    pub storage_quota_bytes: u64,
}

impl ExportLimits {
    pub fn load(source: &Source) -> Result<ExportLimits, ConfigError> {
        Ok(ExportLimits {
            per_user_per_hour: source.or("export-limit-per-user-per-hour", 30)?,
            per_organization_per_hour: source.or("export-limit-per-organization-per-hour", 200)?,
            active_per_organization: source.or("export-max-active-per-organization", 20)?,
            confirm_rows: source.or("export-confirm-rows", 100_000)?,
            storage_quota_bytes: source.or("export-storage-quota-bytes", 10 * 1024 * 1024 * 1024)?,
        })
    }
}
