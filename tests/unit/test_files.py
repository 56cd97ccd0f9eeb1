"""DICOM bytes <-> Dataset: an untouched file comes back byte for byte."""
from __future__ import annotations

import pytest

from orthanc_reshape.dicom.files import read_dataset, write_dataset
from support import sample_bytes


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "JPEG2000.dcm",
                                  "chrH31.dcm"])
def test_an_untouched_file_is_written_back_identical(name):
    data = sample_bytes(name)
    assert write_dataset(read_dataset(data)) == data


def test_reading_keeps_values_raw():
    ds = read_dataset(sample_bytes("CT_small.dcm"))
    assert ds.get_item(0x7FE00010).is_raw
    assert ds.get_item(0x00100010).is_raw


def test_the_transfer_syntax_is_kept():
    ds = read_dataset(sample_bytes("ExplVR_BigEnd.dcm"))
    assert read_dataset(write_dataset(ds)).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
