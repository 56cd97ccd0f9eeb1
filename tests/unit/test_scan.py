"""The fast reader (dicom/scan.py) reads what pydicom's dcmread reads, or declines the file."""
from __future__ import annotations

import copy
from io import BytesIO

import pydicom
from pydicom.dataelem import RawDataElement
import pytest
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_files import PYDICOM_FILE_DIRS, make_ct_series, make_rtstruct_for, make_sr_with_evidence, to_bytes
from orthanc_reshape.dicom.edit import apply_plan
from orthanc_reshape.dicom.files import read_dataset
from orthanc_reshape.dicom.plan import anonymization_plan
from orthanc_reshape.dicom.profiles import load_profile
from orthanc_reshape.dicom.scan import fast_read, sequence_uids
from orthanc_reshape.dicom.serialize import encode_file
from orthanc_reshape.dicom.uids import UidMap, strip_value
from orthanc_reshape.dicom.values import element_vr

ALL_FILES = sorted(p for folder in PYDICOM_FILE_DIRS for p in folder.glob("*.dcm"))


def _reference(data: bytes) -> pydicom.FileDataset:
    return pydicom.dcmread(BytesIO(data), force=True)


def _dcmwrite(ds: pydicom.Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _assert_same(fast: pydicom.FileDataset, reference: pydicom.FileDataset) -> None:
    assert fast.file_meta == reference.file_meta
    assert (fast.is_implicit_VR, fast.is_little_endian) == (reference.is_implicit_VR, reference.is_little_endian)
    assert fast.preamble == reference.preamble
    assert fast.original_character_set == reference.original_character_set
    assert list(fast.keys()) == list(reference.keys())
    for element in reference:  # every value, sequences at any depth, decoded the same way
        assert fast[element.tag] == element, element


def _undefined_lengths(ds: pydicom.Dataset) -> pydicom.Dataset:
    """A copy of `ds` with every sequence and item of undefined length (as DCMTK writes them)."""
    ds = copy.deepcopy(ds)
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
    return ds


def _generated() -> dict:
    ct = make_ct_series(2, rows=16, columns=16)
    datasets = {"ct": ct[0], "rtstruct": make_rtstruct_for(ct), "sr": make_sr_with_evidence(ct),
                "ct-large": make_ct_series(1, rows=256, columns=256)[0]}  # pixel data read as a view
    files = {}
    for name, ds in datasets.items():
        for syntax_name, syntax in (("explicit", ExplicitVRLittleEndian), ("implicit", ImplicitVRLittleEndian),
                                    ("big", ExplicitVRBigEndian)):
            files[f"{name}-{syntax_name}"] = to_bytes(ds, syntax)
            files[f"{name}-{syntax_name}-undefined"] = to_bytes(_undefined_lengths(ds), syntax)
    return files


GENERATED = _generated()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_reads_what_dcmread_reads_or_declines(path) -> None:
    data = path.read_bytes()
    fast = fast_read(data)
    if fast is not None:
        _assert_same(fast, _reference(data))


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_files_in_every_byte_order_and_length_encoding(name) -> None:
    data = GENERATED[name]
    fast = fast_read(data)
    assert fast is not None, "the common encodings are the fast reader's own"
    _assert_same(fast, _reference(data))


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_untouched_file_is_written_back_as_the_reference_path_writes_it(name) -> None:
    data = GENERATED[name]
    assert encode_file(read_dataset(data)) == _dcmwrite(_reference(data))


def test_most_test_files_take_the_fast_path() -> None:
    taken = [p.name for p in ALL_FILES if fast_read(p.read_bytes()) is not None]
    assert len(taken) >= len(ALL_FILES) // 2, taken


@pytest.mark.parametrize("name", ["ct-explicit-undefined", "sr-implicit-undefined", "rtstruct-big-undefined"])
def test_truncated_or_corrupted_files_are_declined_never_misread(name) -> None:
    data = GENERATED[name]
    for cut in range(132, len(data), 97):
        fast = fast_read(data[:cut])
        if fast is not None:  # a cut between two elements is a valid, shorter file
            _assert_same(fast, _reference(data[:cut]))
    corrupted = bytearray(data)
    for position in range(140, len(data), 211):
        corrupted[position] ^= 0xFF
        fast = fast_read(bytes(corrupted))
        if fast is not None:
            reference = _reference(bytes(corrupted))
            assert list(fast.keys()) == list(reference.keys())


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_anonymized_file_is_written_as_the_reference_path_writes_it(name) -> None:
    data = GENERATED[name]
    plan = anonymization_plan(load_profile("2023b"), (), (), (), orthanc_version="test")
    fast, reference = read_dataset(data), _reference(data)
    for ds in (fast, reference):
        apply_plan(ds, plan, UidMap(lambda level, original: f"2.25.{abs(hash((level, original))) % 10**20}"))
    assert encode_file(fast) == _dcmwrite(reference)


def _reference_uids(sequence) -> set:
    """The UI values the reference path sees in a parsed sequence (any depth)."""
    found = set()
    for item in sequence or ():
        for tag in item.keys():
            vr = element_vr(item, tag)
            if vr == "SQ":
                found |= _reference_uids(item[tag].value)
            elif vr == "UI" and item[tag].value:
                value = item[tag].value
                found.update(strip_value(str(v)) for v in (value if isinstance(value, list) else [value]))
    return found


def _sequence_files() -> dict:
    files = {name: data for name, data in GENERATED.items()}
    files.update({p.name: p.read_bytes() for p in ALL_FILES})
    return files


SEQUENCE_FILES = _sequence_files()


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
@pytest.mark.parametrize("name", sorted(SEQUENCE_FILES))
def test_sequence_uids_never_miss_a_uid_the_parsed_sequence_has(name) -> None:
    ds = read_dataset(SEQUENCE_FILES[name])
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        if element_vr(ds, tag) == "SQ" and isinstance(raw, RawDataElement):
            uids = sequence_uids(raw)
            if uids is None:
                assert name not in GENERATED, "the walk vouches for every sequence we generate"
            else:
                assert _reference_uids(ds[tag].value) <= uids


@pytest.mark.parametrize("name", ["ct-large-explicit", "ct-large-implicit", "ct-large-big"])
def test_large_pixel_data_is_a_view_of_the_file_not_a_copy(name) -> None:
    data = GENERATED[name]
    pixels = fast_read(data).get_item(0x7FE00010).value
    assert isinstance(pixels, memoryview) and pixels.obj is data
    assert pixels == _reference(data).PixelData
