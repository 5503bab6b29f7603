-- Objects the system means to delete, noted in the same transaction as the outcome that makes
-- them garbage (a completion's earlier attempts, a failed or deleted request's files, the
-- multipart uploads a dead attempt left). Every worker process sweeps the due rows, claimed by
-- pushing `next_try_at` forward, and forgets a row only once the store has confirmed the object
-- (or upload) gone; a failure pushes `next_try_at` back by a growing back-off. No foreign key:
-- a row outlives its request.
CREATE TABLE pf_object_deletions (
    id                 BLOB PRIMARY KEY NOT NULL,
    storage_key        TEXT NOT NULL,
    -- '' deletes the object at `storage_key`; otherwise aborts this multipart upload of it.
    upload_id          TEXT NOT NULL DEFAULT '',
    export_request_id  BLOB NOT NULL,
    noted_at           TEXT NOT NULL,
    tries              INTEGER NOT NULL DEFAULT 0,
    next_try_at        TEXT NOT NULL,
    last_error         TEXT,
    UNIQUE (storage_key, upload_id)
);
CREATE INDEX pf_object_deletions_due ON pf_object_deletions (next_try_at);
CREATE INDEX pf_object_deletions_request ON pf_object_deletions (export_request_id);
