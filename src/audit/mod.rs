//! The audit log (`pf_audit_logs`): who did what, to what, in which organisation, and when.
//! Append-only: this module only ever inserts, and the database refuses updates and deletes.
//! Denials before anyone signs in are counted apart, in a bounded table (`denials`).

pub mod denials;

use serde_json::Value;
use uuid::Uuid;

use crate::db::{Db, Tx, now, with_db, with_tx};

/// Someone who acts in an organisation (the signed-in user, for one).
pub trait Actor {
    fn organization_id(&self) -> Uuid;
    fn user_id(&self) -> Uuid;
}

/// What happened. The names are stable: reports and tests query them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    Logout,
    AccessDenied,
    ExportRequestCreated,
    ExportRequestCompleted,
    ExportRequestFailed,
    ExportDownloaded,
    ExportRequestDeleted,
    ExportRequestCancelled,
    ExportRequestExpired,
    ExportRetentionChanged,
    /// A client's accounting of disclosures was shown (target: the client).
    DisclosuresViewed,
    /// A client's accounting of disclosures was signed for download as a file (target: the client).
    DisclosureAccountingDownloaded,
}

impl AuditEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::LoginSucceeded => "login_succeeded",
            AuditEvent::LoginFailed => "login_failed",
            AuditEvent::LoginThrottled => "login_throttled",
            AuditEvent::Logout => "logout",
            AuditEvent::AccessDenied => "access_denied",
            AuditEvent::ExportRequestCreated => "export_request_created",
            AuditEvent::ExportRequestCompleted => "export_request_completed",
            AuditEvent::ExportRequestFailed => "export_request_failed",
            AuditEvent::ExportDownloaded => "export_downloaded",
            AuditEvent::ExportRequestDeleted => "export_request_deleted",
            AuditEvent::ExportRequestCancelled => "export_request_cancelled",
            AuditEvent::ExportRequestExpired => "export_request_expired",
            AuditEvent::ExportRetentionChanged => "export_retention_changed",
            AuditEvent::DisclosuresViewed => "disclosures_viewed",
            AuditEvent::DisclosureAccountingDownloaded => "disclosure_accounting_downloaded",
        }
    }
}

/// One entry. Payloads carry ids, counts and settings — never PHI.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub organization_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub event: AuditEvent,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub payload: Value,
}

impl AuditEntry {
    pub fn new(event: AuditEvent) -> Self {
        AuditEntry {
            organization_id: None,
            actor_id: None,
            event,
            target_type: None,
            target_id: None,
            payload: Value::Object(Default::default()),
        }
    }

    /// Done by `user`, in their organisation.
    pub fn by(self, user: &impl Actor) -> Self {
        self.organization(user.organization_id()).actor(user.user_id())
    }

    pub fn organization(mut self, id: Uuid) -> Self {
        self.organization_id = Some(id);
        self
    }

    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor_id = Some(id);
        self
    }

    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }

    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

/// The insert for an entry of `organization` on `backend`: an organisation's entry takes the
/// organisation's next number (`org_seq`) in the same statement. Postgres hands it out with an
/// upsert on the organisation's counter row, whose lock queues concurrent writers of that one
/// organisation until they commit; SQLite, one writer at a time anyway, takes MAX + 1 along the
/// unique index.
fn insert_sql(backend: &str, organization: bool) -> &'static str {
    match (backend, organization) {
        (_, false) => {
            "INSERT INTO pf_audit_logs \
             (organization_id, actor_id, event, target_type, target_id, payload, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        }
        ("postgres", true) => {
            "WITH seq AS (\
                 INSERT INTO pf_audit_sequences (organization_id, last_seq) VALUES ($1, 1) \
                 ON CONFLICT (organization_id) DO UPDATE SET last_seq = pf_audit_sequences.last_seq + 1 \
                 RETURNING last_seq) \
             INSERT INTO pf_audit_logs \
             (organization_id, org_seq, actor_id, event, target_type, target_id, payload, occurred_at) \
             SELECT $1, last_seq, $2, $3, $4, $5, $6, $7 FROM seq"
        }
        (_, true) => {
            "INSERT INTO pf_audit_logs \
             (organization_id, org_seq, actor_id, event, target_type, target_id, payload, occurred_at) \
             VALUES ($1, (SELECT COALESCE(MAX(org_seq), 0) + 1 FROM pf_audit_logs WHERE organization_id = $1), \
                     $2, $3, $4, $5, $6, $7)"
        }
    }
}

/// Inserts `entry` through `$executor` (a pool or a transaction's connection) on `$backend`.
macro_rules! insert_entry {
    ($executor:expr, $backend:expr, $entry:expr) => {
        sqlx::query(insert_sql($backend, $entry.organization_id.is_some()))
            .bind($entry.organization_id)
            .bind($entry.actor_id)
            .bind($entry.event.as_str())
            .bind($entry.target_type)
            .bind(&$entry.target_id)
            .bind(sqlx::types::Json(&$entry.payload))
            .bind(now())
            .execute($executor)
            .await
            .map(|done| done.rows_affected())
    };
}

/// Appends `entry` to the audit log.
pub async fn record(db: &Db, entry: AuditEntry) -> Result<(), sqlx::Error> {
    let backend = db.backend();
    with_db!(db, pool => insert_entry!(pool, backend, entry))?;
    Ok(())
}

/// Appends `entry` inside `tx`: it is logged if and only if the transaction commits.
pub async fn record_in(tx: &mut Tx, entry: AuditEntry) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    with_tx!(tx, conn => insert_entry!(conn, backend, entry))?;
    Ok(())
}
