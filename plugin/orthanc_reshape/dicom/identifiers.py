"""The Orthanc IDs a dataset gets once stored: SHA-1 of "PatientID", "PatientID|StudyUID", ... written as five
groups of 8 hex digits joined by "-" (Orthanc's DicomInstanceHasher)."""
from __future__ import annotations

from hashlib import sha1
from typing import Dict

from pydicom.dataset import Dataset

from .tags import PATIENT_ID, SERIES_UID, SOP_UID, STUDY_UID


def _hash(*parts: str) -> str:
    digest = sha1("|".join(parts).encode("utf-8")).hexdigest()
    return "-".join(digest[i:i + 8] for i in range(0, 40, 8))


def orthanc_ids(ds: Dataset) -> Dict[str, str]:
    """The Orthanc IDs of the patient, study, series and instance `ds` would be stored as."""
    values = []
    for tag in (PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID):
        value = ds[tag].value if tag in ds else ""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        values.append(str(value or "").rstrip(" \x00"))  # trailing padding is not part of the value
    return {"Patient": _hash(*values[:1]), "Study": _hash(*values[:2]),
            "Series": _hash(*values[:3]), "Instance": _hash(*values)}
