-- The accounting of disclosures (45 CFR 164.528): which clients' records each identified export
-- carried, written with the export's completion and kept six years (configurable), whatever
-- happens to the request's history row or its file. No foreign key to the request: the ledger
-- outlives it.

-- Each client the ledger has met, numbered densely within its organisation, so that an export's
-- clients can be kept as bits.
CREATE TABLE pf_disclosure_subjects (
    organization_id  BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id        BLOB NOT NULL,
    subject_no       INTEGER NOT NULL CHECK (subject_no >= 0),
    PRIMARY KEY (organization_id, client_id),
    UNIQUE (organization_id, subject_no)
) WITHOUT ROWID;

-- One identified export: what was disclosed, when, to whom, why and at whose request, as it was
-- when the export completed.
CREATE TABLE pf_disclosures (
    export_request_id  BLOB PRIMARY KEY NOT NULL,
    organization_id    BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    completed_at       TEXT NOT NULL,
    keep_until         TEXT NOT NULL,
    export_type        TEXT NOT NULL,
    export_format      TEXT NOT NULL,
    entity_types       TEXT NOT NULL,
    date_from          TEXT,
    date_to            TEXT,
    time_zone          TEXT NOT NULL,
    -- The classes of information in its columns (JSON: ["phi", "pii", "general"]).
    information        TEXT NOT NULL,
    purpose            TEXT,
    purpose_detail     TEXT,
    recipient          TEXT,
    requested_by       TEXT,
    client_count       INTEGER NOT NULL
);
CREATE INDEX pf_disclosures_org_completed ON pf_disclosures (organization_id, completed_at);
CREATE INDEX pf_disclosures_keep_until ON pf_disclosures (keep_until);

-- Which subjects an export carried: per block of 4,096 subject numbers it touched, one bit each.
CREATE TABLE pf_disclosure_blocks (
    organization_id    BLOB NOT NULL,
    block              INTEGER NOT NULL,
    export_request_id  BLOB NOT NULL REFERENCES pf_disclosures (export_request_id) ON DELETE CASCADE,
    bits               BLOB NOT NULL,
    PRIMARY KEY (organization_id, block, export_request_id)
) WITHOUT ROWID;
CREATE INDEX pf_disclosure_blocks_export ON pf_disclosure_blocks (export_request_id);

-- Finding a client by record number.
CREATE INDEX clients_org_record_number ON clients (organization_id, medical_record_number);

-- Who may read it.
INSERT INTO role_permissions (role_key, permission) VALUES ('org_admin', 'pf.disclosures.view');
