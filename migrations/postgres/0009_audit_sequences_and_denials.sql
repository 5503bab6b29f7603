-- Hardening (issue 15): per-organisation audit numbers, indexes for the hourly limits, and a
-- bounded table for denials nobody signed in for.

-- Each organisation's audit entries are numbered 1, 2, 3… on their own (`org_seq`): the audit-trail
-- export shows these, not the global `id`, whose gaps would reveal other organisations' activity.
-- Entries of no organisation (sign-in events of no known account) have none.
ALTER TABLE pf_audit_logs ADD COLUMN org_seq BIGINT;
ALTER TABLE pf_audit_logs DISABLE TRIGGER pf_audit_logs_no_update_or_delete;
UPDATE pf_audit_logs AS entry SET org_seq = numbered.seq
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY id) AS seq
      FROM pf_audit_logs WHERE organization_id IS NOT NULL) AS numbered
WHERE entry.id = numbered.id;
ALTER TABLE pf_audit_logs ENABLE TRIGGER pf_audit_logs_no_update_or_delete;
ALTER TABLE pf_audit_logs ADD CONSTRAINT pf_audit_logs_org_seq_check
    CHECK ((organization_id IS NULL) = (org_seq IS NULL));
CREATE UNIQUE INDEX pf_audit_logs_org_seq ON pf_audit_logs (organization_id, org_seq);
-- The last number handed out per organisation: the insert takes it with an upsert in the same
-- statement, so concurrent writers of one organisation queue on its row until they commit.
CREATE TABLE pf_audit_sequences (
    organization_id  UUID PRIMARY KEY,
    last_seq         BIGINT NOT NULL
);
INSERT INTO pf_audit_sequences (organization_id, last_seq)
SELECT organization_id, MAX(org_seq) FROM pf_audit_logs
WHERE organization_id IS NOT NULL GROUP BY organization_id;
-- The audit-trail export over a date range reads in (occurred_at, org_seq) order.
DROP INDEX pf_audit_logs_org_time;
CREATE INDEX pf_audit_logs_org_time ON pf_audit_logs (organization_id, occurred_at, org_seq);
-- The hourly request limits count one event of one organisation since an instant, by actor:
-- answered from this index alone.
CREATE INDEX pf_audit_logs_org_event_time ON pf_audit_logs (organization_id, event, occurred_at, actor_id);

-- Denials before anyone is signed in (a server function called without a session, a failed or
-- throttled sign-in), counted per minute, source address block (an IPv6 client's /64), event,
-- permission and account, instead of one audit row per request: a flood adds a row per new
-- combination, not per request. At most 1,000 sources get rows of their own in a minute; the
-- rest of that minute is counted under source '*'. Kept 90 days (removed by housekeeping).
-- Not part of the append-only trail; '' stands for "none" in the key columns.
CREATE TABLE pf_denials (
    minute      TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    event       TEXT NOT NULL,
    permission  TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    count       BIGINT NOT NULL,
    first_at    TIMESTAMPTZ NOT NULL,
    last_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (minute, source, event, permission, account_id)
);
