-- The export lifecycle: files expire, requests can be cancelled and run again.
ALTER TABLE pf_export_requests DROP CONSTRAINT pf_export_requests_status_check;
ALTER TABLE pf_export_requests ADD CONSTRAINT pf_export_requests_status_check
    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'expired'));
-- When a completed file is deleted (its organisation's retention after completion).
ALTER TABLE pf_export_requests ADD COLUMN expires_at TIMESTAMPTZ;
-- Set when someone cancels a request a worker is producing: the worker stops at its next tick.
ALTER TABLE pf_export_requests ADD COLUMN cancel_requested_at TIMESTAMPTZ;
-- The failed, cancelled or expired request this one runs again (not a foreign key: the original
-- may be deleted; this one stays).
ALTER TABLE pf_export_requests ADD COLUMN rerun_of UUID;
-- Files completed before this have no expiry yet: the first expiry sweep gives them their
-- organisation's retention counted from then (so an upgrade deletes nothing at once).
-- The expiry sweep's "completed files now due".
CREATE INDEX pf_export_requests_expiring ON pf_export_requests (expires_at) WHERE status = 'completed';

-- How long each organisation keeps completed files, in seconds (NULL: the configured default).
ALTER TABLE organizations ADD COLUMN export_retention_secs INTEGER
    CHECK (export_retention_secs BETWEEN 3600 AND 2592000);

-- Who may change it.
INSERT INTO role_permissions (role_key, permission) VALUES ('org_admin', 'pf.export_settings.manage');
