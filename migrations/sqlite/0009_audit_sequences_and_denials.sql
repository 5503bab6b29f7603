-- Hardening (issue 15): per-organisation audit numbers, indexes for the hourly limits, and a
-- bounded table for denials nobody signed in for.

-- Each organisation's audit entries are numbered 1, 2, 3… on their own (`org_seq`): the audit-trail
-- export shows these, not the global `id`, whose gaps would reveal other organisations' activity.
-- Entries of no organisation (sign-in events of no known account) have none. SQLite has
-- one writer at a time, so the insert takes MAX + 1 along the unique index.
ALTER TABLE pf_audit_logs ADD COLUMN org_seq INTEGER;
DROP TRIGGER pf_audit_logs_no_update;
UPDATE pf_audit_logs SET org_seq = numbered.seq
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY id) AS seq
      FROM pf_audit_logs WHERE organization_id IS NOT NULL) AS numbered
WHERE pf_audit_logs.id = numbered.id;
CREATE TRIGGER pf_audit_logs_no_update BEFORE UPDATE ON pf_audit_logs
BEGIN
    SELECT RAISE(ABORT, 'pf_audit_logs is append-only');
END;
CREATE TRIGGER pf_audit_logs_org_seq_check BEFORE INSERT ON pf_audit_logs
WHEN (NEW.organization_id IS NULL) <> (NEW.org_seq IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'an organisation''s audit entry needs its number, and only it');
END;
CREATE UNIQUE INDEX pf_audit_logs_org_seq ON pf_audit_logs (organization_id, org_seq);
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
    minute      TEXT NOT NULL,
    source      TEXT NOT NULL,
    event       TEXT NOT NULL,
    permission  TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    count       INTEGER NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    PRIMARY KEY (minute, source, event, permission, account_id)
) WITHOUT ROWID;
