-- Organisations, users, roles and permissions, sessions, login throttling,
-- the export queue, the audit log, and the organisation's records.

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE roles (
    key   TEXT PRIMARY KEY,
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
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_key         TEXT REFERENCES roles (key),
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX memberships_organization ON memberships (organization_id);

-- Only the SHA-256 of a session token is stored: a leaked table opens no session.
CREATE TABLE sessions (
    token_hash       BYTEA PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_failures (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_lookup ON login_failures (scope, key, failed_at);

CREATE TABLE pf_export_requests (
    id                 UUID PRIMARY KEY,
    organization_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    requested_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    export_type        TEXT NOT NULL,
    export_format      TEXT NOT NULL,
    entity_types       JSONB NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    progress           INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    row_count          BIGINT,
    file_size_bytes    BIGINT,
    storage_key        TEXT,
    file_name          TEXT,
    error              TEXT,
    attempt            INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL DEFAULT 3,
    locked_by          TEXT,
    lease_expires_at   TIMESTAMPTZ,
    run_at             TIMESTAMPTZ NOT NULL,
    requested_at       TIMESTAMPTZ NOT NULL,
    started_at         TIMESTAMPTZ,
    completed_at       TIMESTAMPTZ,
    execution_time_ms  BIGINT,
    pii_phi_filtered   BOOLEAN NOT NULL DEFAULT FALSE
);
-- "This organisation's requests, newest first."
CREATE INDEX pf_export_requests_org_recent ON pf_export_requests (organization_id, requested_at DESC, id DESC);
-- "The next pending job" and "processing jobs whose lease ran out".
CREATE INDEX pf_export_requests_pending ON pf_export_requests (run_at) WHERE status = 'pending';
CREATE INDEX pf_export_requests_leases ON pf_export_requests (lease_expires_at) WHERE status = 'processing';

CREATE TABLE pf_audit_logs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  UUID,
    actor_id         UUID,
    event            TEXT NOT NULL,
    target_type      TEXT,
    target_id        TEXT,
    payload          JSONB NOT NULL DEFAULT '{}',
    occurred_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX pf_audit_logs_org_time ON pf_audit_logs (organization_id, occurred_at);

CREATE FUNCTION pf_audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pf_audit_logs is append-only';
END;
$$;

CREATE TRIGGER pf_audit_logs_no_update_or_delete BEFORE UPDATE OR DELETE ON pf_audit_logs
    FOR EACH ROW EXECUTE FUNCTION pf_audit_logs_append_only();

CREATE TRIGGER pf_audit_logs_no_truncate BEFORE TRUNCATE ON pf_audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION pf_audit_logs_append_only();

-- The organisation's records. Column classes (PHI / PII / general) live in src/records.rs.

CREATE TABLE staff (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    employee_number  TEXT NOT NULL,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    email            TEXT NOT NULL,
    phone            TEXT,
    job_title        TEXT NOT NULL,
    npi              TEXT,
    hired_on         DATE NOT NULL,
    active           BOOLEAN NOT NULL
);
CREATE INDEX staff_org ON staff (organization_id, id);

CREATE TABLE clients (
    id                      UUID PRIMARY KEY,
    organization_id         UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    medical_record_number   TEXT NOT NULL,
    first_name              TEXT NOT NULL,
    last_name               TEXT NOT NULL,
    date_of_birth           DATE NOT NULL,
    sex                     TEXT NOT NULL,
    email                   TEXT,
    phone                   TEXT,
    address_line            TEXT,
    city                    TEXT,
    state                   TEXT,
    zip_code                TEXT,
    insurance_member_id     TEXT,
    primary_diagnosis_code  TEXT,
    intake_date             DATE NOT NULL,
    status                  TEXT NOT NULL
);
CREATE INDEX clients_org ON clients (organization_id, id);

CREATE TABLE appointments (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id         UUID NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    staff_id          UUID NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    starts_at         TIMESTAMPTZ NOT NULL,
    duration_minutes  INTEGER NOT NULL,
    appointment_type  TEXT NOT NULL,
    location          TEXT NOT NULL,
    status            TEXT NOT NULL,
    notes             TEXT
);
CREATE INDEX appointments_org ON appointments (organization_id, id);

CREATE TABLE encounters (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id         UUID NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    staff_id          UUID NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    appointment_id    UUID REFERENCES appointments (id) ON DELETE SET NULL,
    service_date      DATE NOT NULL,
    diagnosis_code    TEXT NOT NULL,
    procedure_code    TEXT NOT NULL,
    duration_minutes  INTEGER NOT NULL,
    note_summary      TEXT
);
CREATE INDEX encounters_org ON encounters (organization_id, id);

CREATE TABLE claims (
    id                   UUID PRIMARY KEY,
    organization_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id            UUID NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    encounter_id         UUID REFERENCES encounters (id) ON DELETE SET NULL,
    claim_number         TEXT NOT NULL,
    payer_name           TEXT NOT NULL,
    procedure_code       TEXT NOT NULL,
    diagnosis_code       TEXT NOT NULL,
    submitted_on         DATE NOT NULL,
    billed_cents         BIGINT NOT NULL,
    paid_cents           BIGINT,
    status               TEXT NOT NULL
);
CREATE INDEX claims_org ON claims (organization_id, id);
