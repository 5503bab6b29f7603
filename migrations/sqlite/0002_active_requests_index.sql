-- "Has this organisation anything pending or processing?" (the Refresh button, the cap on active
-- exports) without reading its whole history.
CREATE INDEX pf_export_requests_org_active ON pf_export_requests (organization_id)
    WHERE status IN ('pending', 'processing');
