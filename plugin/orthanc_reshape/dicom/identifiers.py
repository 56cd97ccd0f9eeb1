"""The Orthanc IDs a dataset gets once stored: SHA-1 of "PatientID", "PatientID|StudyUID", ... written as five
groups of 8 hex digits joined by "-" (Orthanc's DicomInstanceHasher)."""
from __future__ import annotations

from hashlib import sha1
from typing import Dict

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .tags import PATIENT_ID, SERIES_UID, SOP_UID, STUDY_UID
from .values import raw_text


def _hash(*parts: str) -> str:
    digest = sha1("|".join(parts).encode("utf-8")).hexdigest()
    return "-".join(digest[i:i + 8] for i in range(0, 40, 8))


def orthanc_ids(ds: Dataset) -> Dict[str, str]:
    """The Orthanc IDs of the patient, study, series and instance `ds` would be stored as."""
    values = [_hashed_value(ds, tag) for tag in (PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID)]
    return {"Patient": _hash(*values[:1]), "Study": _hash(*values[:2]),
            "Series": _hash(*values[:3]), "Instance": _hash(*values)}


def _hashed_value(ds: Dataset, tag: int) -> str:
    """The value of `tag` as Orthanc hashes it: without its trailing padding, except that a value encoded as UN
    keeps its trailing spaces (Orthanc reads UN as bytes)."""
    element = ds.get_item(tag) if tag in ds else None
    if isinstance(element, RawDataElement) and element.VR == "UN":
        return bytes(element.value or b"").decode("utf-8", "replace").rstrip("\x00")
    text = raw_text(element) if isinstance(element, RawDataElement) else None
    value = text if text is not None else ds[tag].value if element is not None else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").rstrip(" \x00")
