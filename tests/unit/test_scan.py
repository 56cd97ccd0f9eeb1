"""The fast reader (dicom/scan.py) reads what pydicom's dcmread reads, or declines the file."""
from __future__ import annotations

import struct
from io import BytesIO

import pydicom
import pytest

from dicom_files import PYDICOM_FILE_DIRS
from orthanc_reshape.dicom.edit import apply_plan
from orthanc_reshape.dicom.files import read_dataset
from orthanc_reshape.dicom.plan import anonymization_plan
from orthanc_reshape.dicom.profiles import load_profile
from orthanc_reshape.dicom.identifiers import HASHED_TAGS, orthanc_ids, raw_instance_id
from orthanc_reshape.dicom.scan import fast_read, leading_elements
from orthanc_reshape.dicom.serialize import encode_file
from orthanc_reshape.dicom.uids import UidMap
from support import encoded_variants

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


GENERATED = encoded_variants()


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


@pytest.mark.parametrize("name", ["ct-large-explicit", "ct-large-implicit", "ct-large-big"])
def test_large_pixel_data_is_a_view_of_the_file_not_a_copy(name) -> None:
    data = GENERATED[name]
    pixels = fast_read(data).get_item(0x7FE00010).value
    assert isinstance(pixels, memoryview) and pixels.obj is data
    assert pixels == _reference(data).PixelData


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_leading_elements_are_those_fast_read_reads_and_give_the_same_orthanc_id(path) -> None:
    """The identifiers read without building a dataset (the Orthanc ID predicted before each store) are those
    of the whole read, and the ID they hash to is the one of pydicom's converted values (a UN value, which
    Orthanc reads as bytes, aside)."""
    data = path.read_bytes()
    leading, whole = leading_elements(data, max(HASHED_TAGS)), fast_read(data)
    if leading is None:
        return
    assert whole is not None, "what the leading walk reads, the whole read reads"
    charset = 0x00080005  # converted by fast_read, which reads the dataset's character set
    assert {tag: e for tag, e in leading.items() if tag != charset} == \
        {tag: e for tag, e in whole._dict.items() if tag <= max(HASHED_TAGS) and tag != charset}
    predicted = raw_instance_id(leading)
    converted = _reference(data)
    for tag in HASHED_TAGS:
        if tag in converted and converted.get_item(tag).VR != "UN":
            converted[tag]  # pydicom's conversion replaces the raw element
    assert predicted is None or predicted == orthanc_ids(converted)["Instance"]


def test_leading_elements_decline_unsorted_tags() -> None:
    """Before the identifiers (PatientID made (0010,0005), after PatientName) or after them (SOPInstanceUID
    moved to the end of the file): either way an identifier could be missed, so the walk declines."""
    data = encode_file(read_dataset(GENERATED["ct-explicit"]))
    patient_id = data.find(b"\x10\x00\x20\x00LO")  # (0010,0020), explicit little endian
    renamed = data[:patient_id + 2] + b"\x05\x00" + data[patient_id + 4:]
    sop = data.find(b"\x08\x00\x18\x00UI")  # (0008,0018)
    end = sop + 8 + struct.unpack("<H", data[sop + 6:sop + 8])[0]
    moved = data[:sop] + data[end:] + data[sop:end]
    assert leading_elements(data, max(HASHED_TAGS)) is not None
    assert leading_elements(renamed, max(HASHED_TAGS)) is None
    assert leading_elements(moved, max(HASHED_TAGS)) is None


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_leading_elements_of_a_written_file_need_not_walk_the_rest(path) -> None:
    """A file this plugin writes has its tags in ascending order: `ordered` stops after the identifiers and
    reads the same elements as the walk that checks the whole file (which also declines a file whose later
    elements are malformed, such as a truncated one)."""
    try:
        written = encode_file(read_dataset(path.read_bytes()))
    except (ValueError, AttributeError):
        return  # deflated, or a file meta group pydicom cannot complete: not written by encode_file
    checked = leading_elements(written, max(HASHED_TAGS))
    assert checked is None or leading_elements(written, max(HASHED_TAGS), ordered=True) == checked
