"""DICOM Part-10 bytes <-> pydicom Dataset, keeping the transfer syntax and untouched elements raw."""
from __future__ import annotations

from hashlib import sha1
from io import BytesIO
from typing import Optional

import pydicom
from pydicom import config
from pydicom.dataset import Dataset
from pydicom.uid import UID

from ..errors import bad_format
from .serialize import encode_file

# Values are kept as the file has them: never reject a file for a value pydicom finds odd.
config.settings.reading_validation_mode = config.IGNORE
config.settings.writing_validation_mode = config.IGNORE


def read_dataset(data: bytes) -> Dataset:
    """Parse a DICOM file; elements stay raw until something asks for their value."""
    try:
        return pydicom.dcmread(BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types for a broken file
        raise bad_format(f"Cannot parse the DICOM file: {exc}") from None


def write_dataset(ds: Dataset) -> bytes:
    """Serialize a dataset read by read_dataset, in its own transfer syntax."""
    if UID(ds.file_meta.TransferSyntaxUID).is_deflated:
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()
    return encode_file(ds)


_ORTHANC_ID_TAGS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def orthanc_instance_id(data: bytes) -> Optional[str]:
    """The Orthanc ID the file will get once stored: SHA-1 of "PatientID|StudyUID|SeriesUID|SOPUID" written as
    five groups of 8 hex digits joined by "-" (None if the file cannot be read)."""
    try:
        ds = pydicom.dcmread(BytesIO(data), force=True, stop_before_pixels=True,
                             specific_tags=["SpecificCharacterSet", *_ORTHANC_ID_TAGS])
        # Orthanc keeps leading spaces; trailing padding is not part of the value.
        key = "|".join(str(ds.get(name, "") or "").rstrip(" \x00") for name in _ORTHANC_ID_TAGS)
    except Exception:  # an unreadable file: Orthanc will refuse it anyway
        return None
    digest = sha1(key.encode("utf-8")).hexdigest()
    return "-".join(digest[i:i + 8] for i in range(0, 40, 8))
