"""DICOM Part-10 bytes <-> pydicom Dataset, keeping the transfer syntax and untouched elements raw."""
from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom import config
from pydicom.dataset import Dataset

from ..errors import bad_format

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
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
