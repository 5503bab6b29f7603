#!/usr/bin/env python3
"""Reads an exported file with Python's own csv, zipfile and json modules and openpyxl -- readers
independent of the Rust encoders -- and prints it as canonical JSON on stdout:

    {"entities": {"<entity>": {"header": [...], "rows": [[cell, ...], ...]}},
     "manifest": {...},                                              (JSON and ZIP: as written;
                                                                      XLSX: the About sheet's
                                                                      field -> value)
     "sheets": {"<sheet>": {"freeze": "A2", "header_bold": true}}}   (XLSX only)

Cells become strings, or null when empty: integers without a decimal point, booleans as
true/false, dates as YYYY-MM-DD, instants as YYYY-MM-DDTHH:MM:SSZ. Exits non-zero (with a
message on stderr) if an XLSX cell holds a formula.

usage: read_export.py FILE ENTITY   (ENTITY names the entity of a lone CSV file)
"""

import csv
import datetime
import io
import json
import sys
import zipfile


def cell(value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    header, body = rows[0], rows[1:]
    return {"header": header, "rows": [[cell(v) for v in row] for row in body]}


def decode_csv(data):
    # utf-8-sig accepts the optional byte-order mark and rejects invalid UTF-8 like utf-8 does.
    return data.decode("utf-8-sig")


def read_json(data):
    document = json.loads(data.decode("utf-8"))
    manifest = document.pop("manifest", None)
    entities = {}
    for entity, rows in document.items():
        header = list(rows[0].keys()) if rows else []
        for row in rows:
            if list(row.keys()) != header:
                sys.exit(f"{entity}: rows have different keys")
        entities[entity] = {"header": header, "rows": [[cell(row[k]) for k in header] for row in rows]}
    return {"entities": entities, "manifest": manifest}


def xlsx_cell(c):
    value = c.value
    if isinstance(value, datetime.datetime):
        if "h" in (c.number_format or ""):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.strftime("%Y-%m-%d")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    return cell(value)


def read_xlsx(path):
    import openpyxl

    workbook = openpyxl.load_workbook(path)
    entities, sheets, manifest = {}, {}, None
    for sheet in workbook.worksheets:
        rows = list(sheet.iter_rows())
        if sheet.title == "About":
            manifest = {row[0].value: row[1].value or "" for row in rows[1:]}
            continue
        for row in rows:
            for c in row:
                if c.data_type == "f":
                    sys.exit(f"{sheet.title}!{c.coordinate} is a formula")
        header = [c.value for c in rows[0]] if rows else []
        body = [[xlsx_cell(c) for c in row] for row in rows[1:]]
        sheets[sheet.title] = {
            "freeze": sheet.freeze_panes,
            "header_bold": all(c.font.b for c in rows[0]) if rows else False,
        }
        # "appointments (2)" continues "appointments".
        entity = sheet.title.split(" (")[0]
        target = entities.setdefault(entity, {"header": header, "rows": []})
        target["rows"].extend(body)
    return {"entities": entities, "manifest": manifest, "sheets": sheets}


def main():
    path, entity = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"PK\x03\x04" and path.endswith(".xlsx"):
        result = read_xlsx(path)
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad:
                sys.exit(f"corrupt member {bad}")
            names = archive.namelist()
            unknown = [n for n in names if not n.endswith(".csv") and n != "manifest.json"]
            if unknown:
                sys.exit(f"unexpected members {unknown}")
            result = {
                "entities": {
                    name[: -len(".csv")]: read_csv(decode_csv(archive.read(name)))
                    for name in names
                    if name.endswith(".csv")
                },
                "manifest": json.loads(archive.read("manifest.json")) if "manifest.json" in names else None,
            }
    elif path.endswith(".json"):
        result = read_json(data)
    else:
        result = {"entities": {entity: read_csv(decode_csv(data))}}
    json.dump(result, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
