"""Browser-test fixtures: Globex Clinic gets one export request in each status (until the export
worker exists, nothing else moves a request past pending). The completed one has a real file in
the local object store, so Download really downloads.

usage: python3 end2end/fixtures.py DATA_DIR
"""

import datetime
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


def at(minutes_ago):
    return (now - datetime.timedelta(minutes=minutes_ago)).isoformat(timespec="microseconds")


rows = [
    # status, type, format, entities, progress, error, minutes ago
    ("failed", "audit_trail", "json", '["audit_logs"]', 0, "The export could not be completed. Please try again.", 40),
    ("completed", "selected_records", "csv", '["clients"]', 100, None, 30),
    ("processing", "full_organization", "xlsx", '["clients","appointments","encounters","claims","staff"]', 40, None, 20),
    ("pending", "deidentified_dataset", "csv", '["clients","claims"]', 0, None, 10),
]
for status, export_type, export_format, entities, progress, error, ago in rows:
    request_id = uuid.uuid4()
    storage_key = None
    if status == "completed":
        storage_key = f"{org_uuid}/{request_id}/export.csv"
        path = data_dir / "storage" / "pf-exports" / storage_key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("id,first_name\n1,Zoë\n2,\"O'Brien, Jr.\"\n", encoding="utf-8")
    db.execute(
        "INSERT INTO pf_export_requests (id, organization_id, requested_by, export_type, export_format, "
        "entity_types, status, progress, error, storage_key, file_name, row_count, run_at, requested_at, "
        "completed_at, max_attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3)",
        (
            request_id.bytes, org, admin, export_type, export_format, entities, status, progress, error,
            storage_key, "export.csv" if storage_key else None, 2 if storage_key else None,
            at(ago), at(ago), at(ago - 1) if status in ("completed", "failed") else None,
        ),
    )
db.commit()
print(f"fixtures: {len(rows)} export requests for Globex Clinic")
