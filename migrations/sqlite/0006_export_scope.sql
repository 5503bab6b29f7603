-- An export's scope: the calendar days it covers in the organisation's time zone of the moment
-- (both NULL: all time), the columns chosen per entity type (NULL: every column offered, as
-- before), and why and for whom it was made (NULL only for de-identified exports and for
-- requests made before this was asked).
ALTER TABLE pf_export_requests ADD COLUMN date_from TEXT;
ALTER TABLE pf_export_requests ADD COLUMN date_to TEXT;
ALTER TABLE pf_export_requests ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE pf_export_requests ADD COLUMN chosen_columns TEXT;
ALTER TABLE pf_export_requests ADD COLUMN purpose TEXT;
ALTER TABLE pf_export_requests ADD COLUMN purpose_detail TEXT;
ALTER TABLE pf_export_requests ADD COLUMN recipient TEXT;
-- (SQLite cannot add a table CHECK afterwards; the app checks the range on the way in and out.)

-- What a completed export's file holds: when its snapshot was taken, how many rows of each entity
-- type, and the SHA-256 of its bytes.
ALTER TABLE pf_export_requests ADD COLUMN snapshot_at TEXT;
ALTER TABLE pf_export_requests ADD COLUMN row_counts TEXT;
ALTER TABLE pf_export_requests ADD COLUMN sha256 TEXT;

-- A ranged export reads its days in (date, id) order: one index range scan per batch.
CREATE INDEX clients_org_intake ON clients (organization_id, intake_date, id);
CREATE INDEX appointments_org_starts ON appointments (organization_id, starts_at, id);
CREATE INDEX encounters_org_service ON encounters (organization_id, service_date, id);
CREATE INDEX claims_org_submitted ON claims (organization_id, submitted_on, id);
DROP INDEX pf_audit_logs_org_time;
CREATE INDEX pf_audit_logs_org_time ON pf_audit_logs (organization_id, occurred_at, id);
