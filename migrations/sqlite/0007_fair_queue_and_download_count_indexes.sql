-- The fair queue's "when did this organisation's last export start?" without reading its history.
CREATE INDEX pf_export_requests_org_started ON pf_export_requests (organization_id, started_at);

-- How many download links an organisation's requests had signed, and the last, from the audit
-- log, for a page of requests at a time.
CREATE INDEX pf_audit_logs_org_event_target ON pf_audit_logs (organization_id, event, target_id);
