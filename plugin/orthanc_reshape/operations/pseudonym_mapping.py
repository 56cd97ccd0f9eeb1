"""The pseudonym -> original mapping, kept in Orthanc's own database (so it follows Orthanc's index:
SQLite or PostgreSQL, one node or several), and its export.

Every pseudonymized instance gets the user metadata "ReshapePseudonyms" (id 4303): a JSON record of its
project, its original and new PatientID / PatientName / AccessionNumber / Study, Series and SOP Instance
UIDs, every other UID it had remapped (frame of reference, nested references) and its date offset. Its
patient gets the patient part of the record. The export reads them back.

This is re-identification data: the export routes are off unless "ExportMapping" is true.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, List, Sequence, Tuple

from .. import store
from .pipeline import StoredInstance

METADATA = "Pseudonyms"
_PATIENT_FIELDS = ("Project", "PatientID", "PatientName", "DateOffsetDays")


def record(stored: Sequence[StoredInstance], records: Dict[str, Dict[str, Any]]) -> None:
    """Write the mapping of every stored instance (and of its patient) as metadata."""
    patients = set()
    for instance in stored:
        entry = records.get(instance.source.id) or {}
        if "Project" not in entry:
            continue
        store.set_metadata("Instance", instance.id, METADATA, json.dumps(entry, sort_keys=True))
        if instance.patient not in patients:
            patients.add(instance.patient)
            patient = {name: entry[name] for name in _PATIENT_FIELDS if name in entry}
            store.set_metadata("Patient", instance.patient, METADATA, json.dumps(patient, sort_keys=True))


def _read(level: str, resource_id: str) -> Dict[str, Any]:
    text = store.get_metadata(level, resource_id, METADATA)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _patients(project: str) -> List[Tuple[str, Dict[str, Any]]]:
    found = []
    for patient_id in store.get_json("/patients"):
        entry = _read("Patient", patient_id)
        if entry.get("Project") == project:
            found.append((patient_id, entry))
    return found


def patient_rows(project: str) -> List[Dict[str, Any]]:
    """One row per pseudonymous patient of the project."""
    rows = []
    for orthanc_id, entry in _patients(project):
        old_id, new_id = (entry.get("PatientID") or ["", ""])[:2]
        old_name, new_name = (entry.get("PatientName") or ["", ""])[:2]
        rows.append({"id_old": old_id, "id_new": new_id, "name_old": old_name, "name_new": new_name,
                     "date_offset_days": entry.get("DateOffsetDays", ""), "orthanc_patient": orthanc_id})
    return sorted(rows, key=lambda row: row["id_new"])


def uid_rows(project: str) -> List[Dict[str, Any]]:
    """One row per remapped UID (study, series, SOP instance, frame of reference, references...)."""
    pairs: Dict[str, str] = {}
    for orthanc_id, _ in _patients(project):
        for instance in store.get_json(f"/patients/{orthanc_id}/instances"):
            entry = _read("Instance", instance["ID"])
            if entry.get("Project") != project:
                continue
            for old, new in entry.get("UIDs", []):
                pairs[old] = new
    return [{"id_old": old, "id_new": new} for old, new in sorted(pairs.items(), key=lambda item: item[1])]


def export(project: str, table: str, fmt: str) -> Tuple[bytes, str]:
    """(body, MIME type) of `table` ("patients" or "uids") of a project, as "csv" or "json"."""
    rows = patient_rows(project) if table == "patients" else uid_rows(project)
    if fmt == "json":
        return json.dumps(rows, indent=2).encode("utf-8"), "application/json"
    columns = (["id_old", "id_new", "name_old", "name_new", "date_offset_days", "orthanc_patient"]
               if table == "patients" else ["id_old", "id_new"])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8"), "text/csv"
