-- The multipart uploads workers have open on the object store. A worker notes each upload before
-- sending its first part and forgets it once completed or aborted, so one that is killed
-- mid-upload leaves a row another process aborts from (when the request is retried, finished,
-- given up on or deleted). No foreign key: a row must outlive its request until aborted.
CREATE TABLE pf_export_uploads (
    upload_id          TEXT PRIMARY KEY,
    export_request_id  BLOB NOT NULL,
    storage_key        TEXT NOT NULL,
    started_at         TEXT NOT NULL
);
CREATE INDEX pf_export_uploads_request ON pf_export_uploads (export_request_id);
