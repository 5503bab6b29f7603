-- The export lifecycle: files expire, requests can be cancelled and run again.
--
-- Two new terminal statuses, `cancelled` and `expired`. SQLite cannot change a CHECK constraint,
-- so the table is rebuilt (nothing references it, so nothing cascades), with its indexes.
CREATE TABLE pf_export_requests_next (
    id                   BLOB PRIMARY KEY NOT NULL,
    organization_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    requested_by         BLOB REFERENCES users (id) ON DELETE SET NULL,
    export_type          TEXT NOT NULL,
    export_format        TEXT NOT NULL,
    entity_types         TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'expired')),
    progress             INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    row_count            INTEGER,
    file_size_bytes      INTEGER,
    storage_key          TEXT,
    file_name            TEXT,
    error                TEXT,
    attempt              INTEGER NOT NULL DEFAULT 0,
    max_attempts         INTEGER NOT NULL DEFAULT 3,
    locked_by            TEXT,
    lease_expires_at     TEXT,
    run_at               TEXT NOT NULL,
    requested_at         TEXT NOT NULL,
    started_at           TEXT,
    completed_at         TEXT,
    execution_time_ms    INTEGER,
    pii_phi_filtered     INTEGER NOT NULL DEFAULT 0,
    date_from            TEXT,
    date_to              TEXT,
    time_zone            TEXT NOT NULL DEFAULT 'UTC',
    chosen_columns       TEXT,
    purpose              TEXT,
    purpose_detail       TEXT,
    recipient            TEXT,
    snapshot_at          TEXT,
    row_counts           TEXT,
    sha256               TEXT,
    -- When a completed file is deleted (its organisation's retention after completion).
    expires_at           TEXT,
    -- Set when someone cancels a request a worker is producing: the worker stops at its next tick.
    cancel_requested_at  TEXT,
    -- The failed, cancelled or expired request this one runs again (not a foreign key: the
    -- original may be deleted; this one stays).
    rerun_of             BLOB
);
INSERT INTO pf_export_requests_next (
    id, organization_id, requested_by, export_type, export_format, entity_types, status, progress,
    row_count, file_size_bytes, storage_key, file_name, error, attempt, max_attempts, locked_by,
    lease_expires_at, run_at, requested_at, started_at, completed_at, execution_time_ms,
    pii_phi_filtered, date_from, date_to, time_zone, chosen_columns, purpose, purpose_detail,
    recipient, snapshot_at, row_counts, sha256)
SELECT
    id, organization_id, requested_by, export_type, export_format, entity_types, status, progress,
    row_count, file_size_bytes, storage_key, file_name, error, attempt, max_attempts, locked_by,
    lease_expires_at, run_at, requested_at, started_at, completed_at, execution_time_ms,
    pii_phi_filtered, date_from, date_to, time_zone, chosen_columns, purpose, purpose_detail,
    recipient, snapshot_at, row_counts, sha256
FROM pf_export_requests;
DROP TABLE pf_export_requests;
ALTER TABLE pf_export_requests_next RENAME TO pf_export_requests;

CREATE INDEX pf_export_requests_org_recent ON pf_export_requests (organization_id, requested_at DESC, id DESC);
CREATE INDEX pf_export_requests_pending ON pf_export_requests (run_at) WHERE status = 'pending';
CREATE INDEX pf_export_requests_leases ON pf_export_requests (lease_expires_at) WHERE status = 'processing';
CREATE INDEX pf_export_requests_org_active ON pf_export_requests (organization_id)
    WHERE status IN ('pending', 'processing');
CREATE INDEX pf_export_requests_org_started ON pf_export_requests (organization_id, started_at);
-- The expiry sweep's "completed files now due".
CREATE INDEX pf_export_requests_expiring ON pf_export_requests (expires_at) WHERE status = 'completed';

-- Files completed before this have no expiry yet: the first expiry sweep gives them their
-- organisation's retention counted from then (so an upgrade deletes nothing at once).

-- How long each organisation keeps completed files, in seconds (NULL: the configured default).
ALTER TABLE organizations ADD COLUMN export_retention_secs INTEGER
    CHECK (export_retention_secs BETWEEN 3600 AND 2592000);

-- Who may change it.
INSERT INTO role_permissions (role_key, permission) VALUES ('org_admin', 'pf.export_settings.manage');
