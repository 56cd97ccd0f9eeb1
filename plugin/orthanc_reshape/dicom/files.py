"""DICOM Part-10 bytes <-> pydicom Dataset, keeping the transfer syntax and untouched elements raw."""
from __future__ import annotations

from io import BytesIO
from typing import Optional

import pydicom
from pydicom import config
from pydicom.dataset import Dataset

from ..errors import bad_format
from .identifiers import HASHED_TAGS, orthanc_ids, raw_instance_id
from .scan import fast_read, leading_elements
from .serialize import encode_file, remember_source, transfer_syntax

# Values are kept as the file has them: never reject a file for a value pydicom finds odd.
config.settings.reading_validation_mode = config.IGNORE
config.settings.writing_validation_mode = config.IGNORE


def read_dataset(data: bytes) -> Dataset:
    """Parse a DICOM file (scan.py, else pydicom's reader); elements stay raw until something asks for their
    value."""
    try:
        ds = fast_read(data) or pydicom.dcmread(BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types for a broken file
        raise bad_format(f"Cannot parse the DICOM file: {exc}") from None
    remember_source(ds, data)
    return ds


def write_dataset(ds: Dataset) -> bytes:
    """Serialize a dataset read by read_dataset, in its own transfer syntax."""
    if transfer_syntax(ds).is_deflated:
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()
    return encode_file(ds)


def orthanc_instance_id(data: bytes, ordered: bool = False) -> Optional[str]:
    """The Orthanc ID the file will get once stored (None if it cannot be read: Orthanc will refuse it).
    `ordered`: the file's top-level tags are known to ascend (write_dataset, and pydicom's writer, sort them),
    so the identifiers are read without walking the rest of the file."""
    elements = leading_elements(data, max(HASHED_TAGS), ordered)
    found = raw_instance_id(elements) if elements is not None else None
    if found is not None:
        return found
    try:
        ds = fast_read(data) or pydicom.dcmread(BytesIO(data), force=True, stop_before_pixels=True,
                                                specific_tags=["SpecificCharacterSet", "PatientID", "StudyInstanceUID",
                                                               "SeriesInstanceUID", "SOPInstanceUID"])
        return orthanc_ids(ds)["Instance"]
    except Exception:  # pydicom raises many types for a broken file
        return None
