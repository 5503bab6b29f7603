"""The XLSX baseline for .ci/bench-exports: the same appointments read with Python's sqlite3 and
written by xlsxwriter in constant-memory mode (dates as dates, numbers as numbers, a bold header).

usage: bench_xlsxwriter.py DATABASE ORG_HEX OUT.xlsx
"""

import datetime
import sqlite3
import sys
import uuid

import xlsxwriter

database, org_hex, out = sys.argv[1:4]
db = sqlite3.connect(database)
workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
sheet = workbook.add_worksheet("appointments")
bold = workbook.add_format({"bold": True})
instant = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
columns = ["id", "client_id", "staff_id", "starts_at", "duration_minutes", "appointment_type", "location", "status", "notes"]
sheet.write_row(0, 0, columns, bold)
sheet.freeze_panes(1, 0)
rows = db.execute(
    f"SELECT {', '.join(columns)} FROM appointments WHERE organization_id = X'{org_hex}' ORDER BY id"
)
for n, (id_, client, staff, starts, minutes, kind, location, status, notes) in enumerate(rows, start=1):
    sheet.write_string(n, 0, str(uuid.UUID(bytes=id_)))
    sheet.write_string(n, 1, str(uuid.UUID(bytes=client)))
    sheet.write_string(n, 2, str(uuid.UUID(bytes=staff)))
    sheet.write_datetime(n, 3, datetime.datetime.fromisoformat(starts).replace(tzinfo=None), instant)
    sheet.write_number(n, 4, minutes)
    sheet.write_string(n, 5, kind)
    sheet.write_string(n, 6, location)
    sheet.write_string(n, 7, status)
    if notes is not None:
        sheet.write_string(n, 8, notes)
workbook.close()
