-- Organisations, users, roles and permissions, sessions, login throttling,
-- the export queue, the audit log, and the organisation's records.

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id             BLOB PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE roles (
    key   TEXT PRIMARY KEY NOT NULL,
    name  TEXT NOT NULL
);

CREATE TABLE role_permissions (
    role_key    TEXT NOT NULL REFERENCES roles (key) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    PRIMARY KEY (role_key, permission)
);

INSERT INTO roles (key, name) VALUES
    ('org_admin', 'Organisation admin'),
    ('finance_admin', 'Finance admin'),
    ('staff', 'Staff');

INSERT INTO role_permissions (role_key, permission) VALUES
    ('org_admin', 'pf.export_requests.view'),
    ('org_admin', 'pf.export_requests.create'),
    ('org_admin', 'pf.export_requests.delete'),
    ('finance_admin', 'pf.export_requests.view'),
    ('finance_admin', 'pf.export_requests.create'),
    ('staff', 'pf.export_requests.view');

-- A membership without a role grants no permission.
CREATE TABLE memberships (
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id  BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_key         TEXT REFERENCES roles (key),
    created_at       TEXT NOT NULL,
    PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX memberships_organization ON memberships (organization_id);

-- Only the SHA-256 of a session token is stored: a leaked table opens no session.
CREATE TABLE sessions (
    token_hash       BLOB PRIMARY KEY NOT NULL,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id  BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at       TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    expires_at       TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_failures (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    failed_at  TEXT NOT NULL
);
CREATE INDEX login_failures_lookup ON login_failures (scope, key, failed_at);

CREATE TABLE pf_export_requests (
    id                 BLOB PRIMARY KEY NOT NULL,
    organization_id    BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    requested_by       BLOB REFERENCES users (id) ON DELETE SET NULL,
    export_type        TEXT NOT NULL,
    export_format      TEXT NOT NULL,
    entity_types       TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    progress           INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    row_count          INTEGER,
    file_size_bytes    INTEGER,
    storage_key        TEXT,
    file_name          TEXT,
    error              TEXT,
    attempt            INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL DEFAULT 3,
    locked_by          TEXT,
    lease_expires_at   TEXT,
    run_at             TEXT NOT NULL,
    requested_at       TEXT NOT NULL,
    started_at         TEXT,
    completed_at       TEXT,
    execution_time_ms  INTEGER,
    pii_phi_filtered   INTEGER NOT NULL DEFAULT 0
);
-- "This organisation's requests, newest first."
CREATE INDEX pf_export_requests_org_recent ON pf_export_requests (organization_id, requested_at DESC, id DESC);
-- "The next pending job" and "processing jobs whose lease ran out".
CREATE INDEX pf_export_requests_pending ON pf_export_requests (run_at) WHERE status = 'pending';
CREATE INDEX pf_export_requests_leases ON pf_export_requests (lease_expires_at) WHERE status = 'processing';

CREATE TABLE pf_audit_logs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id  BLOB,
    actor_id         BLOB,
    event            TEXT NOT NULL,
    target_type      TEXT,
    target_id        TEXT,
    payload          TEXT NOT NULL DEFAULT '{}',
    occurred_at      TEXT NOT NULL
);
CREATE INDEX pf_audit_logs_org_time ON pf_audit_logs (organization_id, occurred_at);

CREATE TRIGGER pf_audit_logs_no_update BEFORE UPDATE ON pf_audit_logs
BEGIN
    SELECT RAISE(ABORT, 'pf_audit_logs is append-only');
END;

CREATE TRIGGER pf_audit_logs_no_delete BEFORE DELETE ON pf_audit_logs
BEGIN
    SELECT RAISE(ABORT, 'pf_audit_logs is append-only');
END;

-- The organisation's records. Column classes (PHI / PII / general) live in src/records.rs.

CREATE TABLE staff (
    id               BLOB PRIMARY KEY NOT NULL,
    organization_id  BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    employee_number  TEXT NOT NULL,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    email            TEXT NOT NULL,
    phone            TEXT,
    job_title        TEXT NOT NULL,
    npi              TEXT,
    hired_on         TEXT NOT NULL,
    active           INTEGER NOT NULL
);
CREATE INDEX staff_org ON staff (organization_id, id);

CREATE TABLE clients (
    id                      BLOB PRIMARY KEY NOT NULL,
    organization_id         BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    medical_record_number   TEXT NOT NULL,
    first_name              TEXT NOT NULL,
    last_name               TEXT NOT NULL,
    date_of_birth           TEXT NOT NULL,
    sex                     TEXT NOT NULL,
    email                   TEXT,
    phone                   TEXT,
    address_line            TEXT,
    city                    TEXT,
    state                   TEXT,
    zip_code                TEXT,
    insurance_member_id     TEXT,
    primary_diagnosis_code  TEXT,
    intake_date             TEXT NOT NULL,
    status                  TEXT NOT NULL
);
CREATE INDEX clients_org ON clients (organization_id, id);

CREATE TABLE appointments (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id         BLOB NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    staff_id          BLOB NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    starts_at         TEXT NOT NULL,
    duration_minutes  INTEGER NOT NULL,
    appointment_type  TEXT NOT NULL,
    location          TEXT NOT NULL,
    status            TEXT NOT NULL,
    notes             TEXT
);
CREATE INDEX appointments_org ON appointments (organization_id, id);

CREATE TABLE encounters (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id         BLOB NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    staff_id          BLOB NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    appointment_id    BLOB REFERENCES appointments (id) ON DELETE SET NULL,
    service_date      TEXT NOT NULL,
    diagnosis_code    TEXT NOT NULL,
    procedure_code    TEXT NOT NULL,
    duration_minutes  INTEGER NOT NULL,
    note_summary      TEXT
);
CREATE INDEX encounters_org ON encounters (organization_id, id);

CREATE TABLE claims (
    id                   BLOB PRIMARY KEY NOT NULL,
    organization_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id            BLOB NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    encounter_id         BLOB REFERENCES encounters (id) ON DELETE SET NULL,
    claim_number         TEXT NOT NULL,
    payer_name           TEXT NOT NULL,
    procedure_code       TEXT NOT NULL,
    diagnosis_code       TEXT NOT NULL,
    submitted_on         TEXT NOT NULL,
    billed_cents         INTEGER NOT NULL,
    paid_cents           INTEGER,
    status               TEXT NOT NULL
);
CREATE INDEX claims_org ON claims (organization_id, id);
