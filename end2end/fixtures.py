"""Browser-test fixtures: Globex Clinic gets one export request in each status. The completed one
has a real file in the local object store, so Download really downloads. The server's export
worker must leave the other three as they are: the pending one is scheduled far in the future
and the processing one holds a lease that far out. And finance@acme.test has used up its
hourly allowance of requests (the audit log is what the limit counts), so its next one is refused.
The completed request covers October 2026, states a purpose and recipient, records its file's
SHA-256 and row count as the worker would, and expires in three days and an hour; the ledger of
disclosures says it carried the records of Globex's first two clients (by name).
A third organisation, Initech, with one admin (admin@initech.test, the demo password), has two
pending requests nobody's worker will run yet (scheduled far in the future): one for the hydrated
run's Cancel and one for the run without JavaScript, told apart by record type.

usage: python3 end2end/fixtures.py DATA_DIR
"""

import datetime
import hashlib
import pathlib
import sqlite3
import sys
import uuid

data_dir = pathlib.Path(sys.argv[1])
db = sqlite3.connect(data_dir / "exports.db")
(org,) = db.execute("SELECT id FROM organizations WHERE slug = 'globex-clinic'").fetchone()
(admin,) = db.execute("SELECT id FROM users WHERE email = 'admin@globex.test'").fetchone()
org_uuid = uuid.UUID(bytes=org)
now = datetime.datetime.now(datetime.timezone.utc)


FAR_FUTURE = "2999-01-01T00:00:00.000000+00:00"


def at(minutes_ago):
    return (now - datetime.timedelta(minutes=minutes_ago)).isoformat(timespec="microseconds")


def record_disclosure(request_id, completed_at):
    """The ledger of disclosures as the worker writes it for the completed request: it carried
    the records of Globex's first two clients in the order a search lists them (by name), numbered
    0 and 1."""
    clients = db.execute(
        "SELECT id FROM clients WHERE organization_id = ? ORDER BY last_name, first_name, medical_record_number "
        "LIMIT 2",
        (org,),
    ).fetchall()
    for number, (client,) in enumerate(clients):
        db.execute(
            "INSERT INTO pf_disclosure_subjects (organization_id, client_id, subject_no) VALUES (?, ?, ?)",
            (org, client, number),
        )
    keep_until = (now + datetime.timedelta(days=2192)).isoformat(timespec="microseconds")
    db.execute(
        "INSERT INTO pf_disclosures (export_request_id, organization_id, completed_at, keep_until, export_type, "
        "export_format, entity_types, date_from, date_to, time_zone, information, purpose, recipient, "
        "requested_by, client_count) VALUES (?, ?, ?, ?, 'selected_records', 'csv', '[\"clients\"]', "
        "'2026-10-01', '2026-10-31', 'Europe/London', '[\"phi\",\"general\"]', 'payment', "
        "'internal: finance team', 'Globex Admin <admin@globex.test>', ?)",
        (request_id.bytes, org, completed_at, keep_until, len(clients)),
    )
    bits = bytearray(512)
    bits[0] = (1 << len(clients)) - 1
    db.execute(
        "INSERT INTO pf_disclosure_blocks (organization_id, block, export_request_id, bits) VALUES (?, 0, ?, ?)",
        (org, request_id.bytes, bytes(bits)),
    )


rows = [
    # status, type, format, entities, progress, error, minutes ago
    ("failed", "audit_trail", "json", '["audit_logs"]', 0, "The export could not be completed. Please try again.", 40),
    ("completed", "selected_records", "csv", '["clients"]', 100, None, 30),
    ("processing", "full_organization", "xlsx", '["clients","appointments","encounters","claims","staff"]', 40, None, 20),
    ("pending", "deidentified_dataset", "csv", '["clients","claims"]', 0, None, 10),
]
for status, export_type, export_format, entities, progress, error, ago in rows:
    request_id = uuid.uuid4()
    storage_key = file_name = digest = None
    if status == "completed":
        # The name the worker gives a finished file, which Download offers the browser.
        completed_on = (now - datetime.timedelta(minutes=ago - 1)).date().isoformat()
        file_name = f"globex-clinic-{export_type.replace('_', '-')}-{completed_on}.{export_format}"
        storage_key = f"{org_uuid}/{request_id}/export.csv"
        path = data_dir / "storage" / "pf-exports" / storage_key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("id,first_name\n1,Zoë\n2,\"O'Brien, Jr.\"\n", encoding="utf-8")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    scoped = status == "completed"
    if status == "completed":
        record_disclosure(request_id, at(ago - 1))
    db.execute(
        "INSERT INTO pf_export_requests (id, organization_id, requested_by, export_type, export_format, "
        "entity_types, status, progress, error, storage_key, file_name, row_count, run_at, requested_at, "
        "completed_at, max_attempts, attempt, locked_by, lease_expires_at, date_from, date_to, time_zone, "
        "purpose, recipient, sha256, row_counts, snapshot_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?, ?, 'Europe/London', ?, ?, ?, ?, ?, ?)",
        (
            request_id.bytes, org, admin, export_type, export_format, entities, status, progress, error,
            storage_key, file_name, 2 if storage_key else None,
            FAR_FUTURE if status == "pending" else at(ago), at(ago),
            at(ago - 1) if status in ("completed", "failed") else None,
            0 if status == "pending" else 1,
            "fixture" if status == "processing" else None,
            FAR_FUTURE if status == "processing" else None,
            "2026-10-01" if scoped else None,
            "2026-10-31" if scoped else None,
            "payment" if scoped or export_type != "deidentified_dataset" else None,
            "internal: finance team" if scoped or export_type != "deidentified_dataset" else None,
            digest,
            '{"clients": 2}' if digest else None,
            at(ago - 1) if digest else None,
            (now + datetime.timedelta(days=3, hours=1)).isoformat(timespec="microseconds") if digest else None,
        ),
    )

initech = uuid.uuid4().bytes
initech_admin = uuid.uuid4().bytes
(password_hash,) = db.execute("SELECT password_hash FROM users WHERE email = 'admin@acme.test'").fetchone()
db.execute(
    "INSERT INTO organizations (id, name, slug, created_at, time_zone) VALUES (?, 'Initech', 'initech', ?, 'UTC')",
    (initech, at(600)),
)
db.execute(
    "INSERT INTO users (id, email, display_name, password_hash, created_at) "
    "VALUES (?, 'admin@initech.test', 'Initech Admin', ?, ?)",
    (initech_admin, password_hash, at(600)),
)
db.execute(
    "INSERT INTO memberships (user_id, organization_id, role_key, created_at) VALUES (?, ?, 'org_admin', ?)",
    (initech_admin, initech, at(600)),
)
for entity, ago in (("staff", 120), ("claims", 121)):
    db.execute(
        "INSERT INTO pf_export_requests (id, organization_id, requested_by, export_type, export_format, "
        "entity_types, status, run_at, requested_at, max_attempts, time_zone, purpose, recipient) "
        "VALUES (?, ?, ?, 'selected_records', 'csv', ?, 'pending', ?, ?, 3, 'UTC', "
        "'health_care_operations', 'internal: quality team')",
        (uuid.uuid4().bytes, initech, initech_admin, f'["{entity}"]', FAR_FUTURE, at(ago)),
    )

(acme,) = db.execute("SELECT id FROM organizations WHERE slug = 'acme-behavioral-health'").fetchone()
(finance,) = db.execute("SELECT id FROM users WHERE email = 'finance@acme.test'").fetchone()
PER_USER_PER_HOUR = 30  # the default EXPORT_LIMIT_PER_USER_PER_HOUR
for n in range(PER_USER_PER_HOUR):
    db.execute(
        "INSERT INTO pf_audit_logs (organization_id, org_seq, actor_id, event, target_type, target_id, payload, "
        "occurred_at) VALUES (?1, (SELECT COALESCE(MAX(org_seq), 0) + 1 FROM pf_audit_logs WHERE organization_id = ?1), "
        "?2, 'export_request_created', 'export_request', ?3, '{}', ?4)",
        (acme, finance, str(uuid.uuid4()), at(5 + n / 60)),
    )
db.commit()
print(
    f"fixtures: {len(rows)} export requests for Globex Clinic; 2 pending for Initech; "
    "finance@acme.test at its hourly limit"
)
