"""The Orthanc IDs a dataset gets once stored: SHA-1 of "PatientID", "PatientID|StudyUID", ... written as five
groups of 8 hex digits joined by "-" (Orthanc's DicomInstanceHasher)."""
from __future__ import annotations

from hashlib import sha1
from typing import Dict, Mapping, Optional

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .tags import PATIENT_ID, SERIES_UID, SOP_UID, STUDY_UID
from .values import get_element, raw_text


def _hash(*parts: str) -> str:
    digest = sha1("|".join(parts).encode("utf-8")).hexdigest()
    return "-".join(digest[i:i + 8] for i in range(0, 40, 8))


HASHED_TAGS = (PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID)  # what Orthanc's IDs are hashes of


def orthanc_ids(ds: Dataset) -> Dict[str, str]:
    """The Orthanc IDs of the patient, study, series and instance `ds` would be stored as."""
    values = [_hashed_value(ds, tag) for tag in HASHED_TAGS]
    return {"Patient": _hash(*values[:1]), "Study": _hash(*values[:2]),
            "Series": _hash(*values[:3]), "Instance": _hash(*values)}


def raw_instance_id(elements: Mapping[int, RawDataElement]) -> Optional[str]:
    """The Orthanc ID of the instance whose top-level raw elements (at least up to SeriesInstanceUID) are
    `elements`, when every hashed value reads without pydicom's conversion; None otherwise."""
    values = []
    for tag in HASHED_TAGS:
        element = elements.get(tag)
        value = "" if element is None else _raw_hashed_value(element)
        if value is None:
            return None
        values.append(value)
    return _hash(*values)


def _raw_hashed_value(element: RawDataElement) -> Optional[str]:
    """The hashed value of a raw element: without its trailing padding, except that a value encoded as UN keeps
    its trailing spaces (Orthanc reads UN as bytes); None when it needs pydicom's conversion."""
    if element.VR == "UN":
        return bytes(element.value or b"").decode("utf-8", "replace").rstrip("\x00")
    text = raw_text(element)
    return None if text is None else text.rstrip(" \x00")


def _hashed_value(ds: Dataset, tag: int) -> str:
    element = get_element(ds, tag)
    if element is None:
        return ""
    text = _raw_hashed_value(element) if isinstance(element, RawDataElement) else None
    if text is not None:
        return text
    value = ds[tag].value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").rstrip(" \x00")
