//! Who the user is and what they may do, as client and server share it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A permission key, as stored in `role_permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    ViewExports,
    CreateExports,
    DeleteExports,
    /// Change how long the organisation keeps completed export files.
    ManageExportSettings,
    /// Read the accounting of disclosures: which exports carried a client's records.
    ViewDisclosures,
}

impl Permission {
    pub fn key(self) -> &'static str {
        match self {
            Permission::ViewExports => "pf.export_requests.view",
            Permission::CreateExports => "pf.export_requests.create",
            Permission::DeleteExports => "pf.export_requests.delete",
            Permission::ManageExportSettings => "pf.export_settings.manage",
            Permission::ViewDisclosures => "pf.disclosures.view",
        }
    }
}

/// The signed-in user as the client sees them: who, in which organisation, allowed to do what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    /// The organisation's IANA time zone (`America/New_York`): export dates are read in it.
    pub organization_time_zone: String,
    /// Today in that zone, when this was read: the New Export dialog's presets count from it.
    pub organization_today: chrono::NaiveDate,
    pub role: Option<String>,
    pub permissions: Vec<String>,
}

impl CurrentUser {
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.iter().any(|key| key == permission.key())
    }
}
