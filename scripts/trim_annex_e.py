"""Regenerate plugin/orthanc_reshape/dicom/data/annex-e.json from the shared Annex E tables.

Usage: python3 scripts/trim_annex_e.py [SPEC_DIR]   (default ../shared/spec, i.e. /work/shared/spec)
Keeps, per attribute, the tag, keyword, Basic Profile action and the non-null option columns (by option
name); per option its DCM code; and the safe private (creator, group, element) triples.
"""
import json
import os
import sys

SPEC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "spec")
OUT = os.path.join(os.path.dirname(__file__), "..", "plugin", "orthanc_reshape", "dicom", "data", "annex-e.json")


def camel(key: str) -> str:
    return "".join("UIDs" if part == "uids" else part.capitalize() for part in key.split("_"))


def main() -> None:
    src = json.load(open(os.path.join(SPEC, "annex-e-options.json"), encoding="utf-8"))
    safe = json.load(open(os.path.join(SPEC, "safe-private.json"), encoding="utf-8"))
    out = {
        "title": "PS3.15 Table E.1-1 (Basic Profile and option columns) and Table E.3.10-1 (safe private "
                 "attributes), trimmed",
        "source": "Generated from ../shared/spec/annex-e-options.json and safe-private.json (see "
                  "scripts/trim_annex_e.py): " + src["source"]["edition"],
        "options": [{"name": camel(o["key"]), "column": o["key"], "code": o["code"],
                     "coding_scheme": o["coding_scheme"], "meaning": o["meaning"],
                     "has_column": o["table_e1_1_column"] is not None} for o in src["options"]],
        "attributes": [],
        "safe_private": [[e["creator"], e["group"], e["element"]] for e in safe["entries"]],
    }
    for row in src["attributes"]:
        item = {"tag": row["tag"], "keyword": row["keyword"], "basic": row["basic"]}
        options = {camel(o["key"]): row[o["key"]] for o in src["options"] if o["key"] != "basic" and row[o["key"]]}
        if options:
            item["options"] = options
        out["attributes"].append(item)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=0)


if __name__ == "__main__":
    main()
