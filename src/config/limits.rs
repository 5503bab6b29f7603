//! How many exports may be requested: per user and per organisation per hour, and at once.

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
}

impl ExportLimits {
    pub fn load(source: &Source) -> Result<ExportLimits, ConfigError> {
        Ok(ExportLimits {
            per_user_per_hour: source.or("export-limit-per-user-per-hour", 30)?,
            per_organization_per_hour: source.or("export-limit-per-organization-per-hour", 200)?,
            active_per_organization: source.or("export-max-active-per-organization", 20)?,
        })
    }
}
