"""The fast path (dicom/scan.py's reader, dicom/serialize.py's writer) produces exactly what the reference
path, pydicom's dcmread then dcmwrite, produces: untouched elements copied raw."""
from __future__ import annotations

from io import BytesIO

import pydicom
import pytest
from pydicom.uid import UID

from dicom_files import make_ct_series, make_rtstruct_for, pydicom_test_files, to_bytes
from orthanc_reshape.dicom.edit import apply_plan
from orthanc_reshape.dicom.files import read_dataset
from orthanc_reshape.dicom.paths import parse_path
from orthanc_reshape.dicom.plan import anonymization_plan, modification_plan
from orthanc_reshape.dicom.profiles import load_profile
from orthanc_reshape.dicom.serialize import encode_file
from orthanc_reshape.dicom.uids import UidMap


def _dcmwrite(ds: pydicom.Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _reference(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(BytesIO(data), force=True)


def _files() -> list:
    return [p for p in pydicom_test_files()
            if not UID(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID).is_deflated]


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_unchanged_dataset_is_written_as_dcmwrite_writes_it(path) -> None:
    data = path.read_bytes()
    assert encode_file(read_dataset(data)) == _dcmwrite(_reference(data))


@pytest.mark.parametrize("plan", [
    modification_plan(((parse_path("PatientName"),
                        "Changed^Name", "Replace.PatientName"),), (), ()),
    anonymization_plan(load_profile("2023b"), (), (), (), orthanc_version="test"),
], ids=["modify", "anonymize"])
@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_edited_dataset_is_written_as_dcmwrite_writes_it(path, plan) -> None:
    data = path.read_bytes()
    fast, slow = read_dataset(data), _reference(data)
    apply_plan(fast, plan, UidMap(lambda level, original: f"2.25.{abs(hash((level, original))) % 10**20}"))
    apply_plan(slow, plan, UidMap(lambda level, original: f"2.25.{abs(hash((level, original))) % 10**20}"))
    assert encode_file(fast) == _dcmwrite(slow)


def test_untouched_pixel_data_is_the_source_bytes() -> None:
    data = to_bytes(make_ct_series(1, rows=64, columns=64)[0])
    ds = read_dataset(data)
    pixels = ds.get_item(0x7FE00010).value
    out = encode_file(ds)
    assert pixels in out


def test_sequences_keep_their_length_encoding() -> None:
    ct = make_ct_series(2)
    data = to_bytes(make_rtstruct_for(ct))
    ds = read_dataset(data)
    for element in ds:  # converts every sequence without changing a value
        pass
    assert encode_file(ds) == _dcmwrite(_reference(data))
