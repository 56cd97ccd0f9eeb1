"""Raw sequences (dicom/raw_sequences.py): the UIDs they hold and their rewrite, against the parse-and-write path."""
from __future__ import annotations

import struct

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue

from dicom_files import PYDICOM_FILE_DIRS
from orthanc_reshape.dicom import relocation
from orthanc_reshape.dicom.files import read_dataset, write_dataset
from orthanc_reshape.dicom.raw_sequences import RawSequence
from orthanc_reshape.dicom.relocation import MovedSet, rewrite_references
from orthanc_reshape.dicom.scan import ITEM_END, SEQUENCE_END, UNDEFINED_LENGTH
from orthanc_reshape.dicom.serialize import Encoding
from orthanc_reshape.dicom.uids import strip_value
from orthanc_reshape.dicom.values import element_vr
from support import RANDOM_MOVED_UIDS, encoded_variants, random_nested_files

ALL_FILES = sorted(p for folder in PYDICOM_FILE_DIRS for p in folder.glob("*.dcm"))
GENERATED = encoded_variants()
FILES = dict(GENERATED, **{p.name: p.read_bytes() for p in ALL_FILES})


def _raw_sequences(ds):
    """(tag, raw element) of every top-level sequence still as read."""
    return [(tag, ds.get_item(tag)) for tag in list(ds.keys())
            if element_vr(ds, tag) == "SQ" and isinstance(ds.get_item(tag), RawDataElement)]


def _parsed_uids(sequence) -> set:
    """The UI values the parse path sees in a parsed sequence (any depth)."""
    found = set()
    for item in sequence or ():
        for tag in item.keys():
            vr = element_vr(item, tag)
            if vr == "SQ":
                found |= _parsed_uids(item[tag].value)
            elif vr == "UI" and item[tag].value:
                value = item[tag].value
                found.update(strip_value(str(v)) for v in (value if isinstance(value, (list, MultiValue)) else [value]))
    return found


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
@pytest.mark.parametrize("name", sorted(FILES))
def test_uids_are_those_the_parsed_sequence_has(name) -> None:
    ds = read_dataset(FILES[name])
    for tag, raw in _raw_sequences(ds):
        tree = RawSequence.parse(raw)
        if tree is None:
            assert name not in GENERATED, "the walk vouches for every sequence we generate"
        else:
            assert tree.uids() == _parsed_uids(ds[tag].value)


def _moved_sets(data: bytes):
    """Moved sets over the UIDs of a file's sequences: all of them as instances; every other one as an
    instance, a series or a study (half of those moving whole). New UIDs of odd and even lengths."""
    ds = read_dataset(data)
    uids = sorted(set().union(*(_parsed_uids(ds[tag].value) for tag, _ in _raw_sequences(ds))) - {""})
    new = {uid: f"2.25.{index}" + "1" * (index % 3) for index, uid in enumerate(uids)}
    yield MovedSet(instances=new)
    picked = uids[::2]
    yield MovedSet(instances={u: new[u] for u in picked[0::3]}, series={u: new[u] for u in picked[1::3]},
                   studies={u: new[u] for u in picked[2::3]}, whole=frozenset(picked[1::6] + picked[2::6]))


def _rewrite(data: bytes, moved: MovedSet, raw: bool, monkeypatch) -> tuple:
    """(values rewritten, the file written, the moved UIDs the references mention) on one path."""
    with monkeypatch.context() as patch:
        if not raw:
            patch.setattr(relocation.RawSequence, "parse", classmethod(lambda cls, element: None))
        ds = read_dataset(data)
        mentioned: set = set()
        count = rewrite_references(ds, moved, mentioned)
        return count, write_dataset(ds), mentioned


@pytest.mark.filterwarnings("ignore:Expected explicit VR", "ignore:Invalid value")
@pytest.mark.parametrize("name", sorted(FILES))
def test_rewrite_on_the_bytes_writes_what_the_parse_path_writes(name, monkeypatch) -> None:
    data = FILES[name]
    for moved in _moved_sets(data):
        try:
            expected = _rewrite(data, moved, False, monkeypatch)
        except Exception:  # a file the parse-and-write path cannot rewrite: nothing to compare with
            continue
        assert _rewrite(data, moved, True, monkeypatch) == expected


def test_generated_references_are_rewritten_on_the_bytes(monkeypatch) -> None:
    """The rewrite of an RT-STRUCT's references goes through the raw path (no pydicom parse of the sequence)."""
    data = GENERATED["rtstruct-explicit-undefined"]
    moved = next(_moved_sets(data))
    with monkeypatch.context() as patch:
        patch.setattr(relocation, "_dataset_entries", None)  # the parse path would fail
        ds = read_dataset(data)
        assert rewrite_references(ds, moved) > 0
    assert _rewrite(data, moved, True, monkeypatch)[1] == _rewrite(data, moved, False, monkeypatch)[1]


@pytest.mark.parametrize("name", ["ct-explicit", "ct-big-undefined"])
def test_a_sequence_rewritten_on_its_bytes_stays_raw(name) -> None:
    """A rewritten sequence goes back into the dataset as a raw element, which the writer copies: pydicom's
    __setitem__ would parse a private one (to find its creator). The generated CT's private sequence holds the
    image's own SOPInstanceUID."""
    ds = read_dataset(GENERATED[name])
    own = strip_value(ds.SOPInstanceUID)
    assert rewrite_references(ds, MovedSet(instances={own: "2.25.1234"})) > 0
    private = ds._dict[0x00091010]
    assert isinstance(private, RawDataElement) and b"2.25.1234" in private.value and own.encode() not in private.value


@pytest.mark.filterwarnings("ignore")
def test_random_nested_values_rewritten_on_their_bytes_give_the_parsed_file(monkeypatch) -> None:
    """Random elements in sequence items (some of them moved UIDs, single or among several values): the rewrite
    on the bytes writes what the parse path writes."""
    moved = MovedSet(instances=RANDOM_MOVED_UIDS, series={"1.2.840.10008.5.1.4.1.1.2": "2.25.5"})
    for index, data in enumerate(random_nested_files(seed=11, count=40)):
        assert _rewrite(data, moved, True, monkeypatch) == _rewrite(data, moved, False, monkeypatch), index


# --- what the walk declines: whatever the parse-and-write path would not write back as read --------------------

LE = Encoding(implicit=False, little=True)


def _sequence(*elements: bytes) -> RawDataElement:
    body = b"".join(elements)
    value = LE.item(len(body)) + body
    return RawDataElement(0x00081115, "SQ", len(value), value, 0, False, True)


def _element(tag: int, vr: str, value: bytes) -> bytes:
    return LE.header(tag, vr, len(value)) + value


def test_a_plain_item_is_walked() -> None:
    tree = RawSequence.parse(_sequence(_element(0x00081150, "UI", b"1.2\0"), _element(0x00081155, "UI", b"1.23")))
    assert tree is not None and tree.uids() == {"1.2", "1.23"}


@pytest.mark.parametrize("elements", [
    [_element(0x00080000, "UL", struct.pack("<L", 12)), _element(0x00081150, "UI", b"1.2\0")],  # a group length
    [_element(0x00081155, "UI", b"1.23"), _element(0x00081150, "UI", b"1.2\0")],  # tags out of order
    [_element(0x00081155, "UI", b"1.2 ")],                                           # space padding
    [_element(0x00081155, "UN", b"1.23")],                                           # UN
    [LE.tag(0x00081155) + b"OB\x01\x00" + struct.pack("<L", 2) + b"12"],             # reserved bytes not zero
    [_element(0x00081155, "UI", b"1.23")[:-2]],                                      # truncated
    [_element(0x00020010, "UI", b"1.2\0"), _element(0x00081155, "UI", b"1.23")],   # file meta in an item
    [_element(0x00081199, "SQ", LE.item(UNDEFINED_LENGTH) + LE.tag(ITEM_END) + struct.pack("<L", 4))],  # delimiter length
    [LE.header(0x00081199, "SQ", UNDEFINED_LENGTH) + LE.tag(SEQUENCE_END) + struct.pack("<L", 2)],
], ids=["group-length", "unsorted", "space-padding", "UN", "reserved", "truncated", "file-meta",
        "item-delimiter-length", "sequence-delimiter-length"])
def test_what_the_writer_would_change_is_declined(elements) -> None:
    assert RawSequence.parse(_sequence(*elements)) is None
