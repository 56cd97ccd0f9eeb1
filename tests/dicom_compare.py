"""Comparing DICOM outputs of the plugin and of Orthanc's built-in routes, generated values aside."""
from __future__ import annotations

import io

import pydicom

# Values that each implementation generates on its own: compared for presence, not equality.
GENERATED = {"SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientID",
             "PatientName", "DeidentificationMethod", "InstanceCreatorUID", "MediaStorageSOPInstanceUID"}


def read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data), force=True)


def structure(ds: pydicom.Dataset, generated: set[str] = GENERATED) -> dict:
    """Every element path -> value; generated values (and every nested UID) as "<generated>"."""
    result = {}

    def walk(dataset: pydicom.Dataset, prefix: str) -> None:
        for element in dataset:
            if element.tag.element == 0:
                continue  # retired group lengths: DCMTK keeps them, pydicom does not write them
            key = f"{prefix}{element.tag:08x}"
            if element.VR == "SQ":
                result[key] = len(element.value)
                for index, item in enumerate(element.value):
                    walk(item, f"{key}[{index}].")
            elif element.keyword in generated or (element.VR == "UI" and prefix):
                result[key] = "<generated>" if element.value else ""
            elif element.tag != 0x7FE00010:
                result[key] = str(element.value)
    walk(ds, "")
    return result


def differences(a: pydicom.Dataset, b: pydicom.Dataset, generated: set[str] = GENERATED) -> dict:
    """{path: (value in a, value in b)} for every path where the structures differ."""
    sa, sb = structure(a, generated), structure(b, generated)
    return {k: (sa.get(k), sb.get(k)) for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)}
