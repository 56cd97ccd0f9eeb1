"""The anonymization's visitor on the bytes of a sequence (edit._visit_raw) writes what the visitor on parsed
items writes, byte for byte, for every test file and every kind of anonymization; and it is really taken."""
from __future__ import annotations

import hashlib

import pytest

from pydicom.dataelem import RawDataElement
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from dicom_files import PYDICOM_FILE_DIRS, make_ct_series, to_bytes
from orthanc_reshape.config import parse_config
from orthanc_reshape.dicom import dates, edit
from orthanc_reshape.dicom.files import read_dataset, write_dataset
from orthanc_reshape.dicom.scan import fast_read
from orthanc_reshape.dicom.uids import UidMap
from orthanc_reshape.errors import ReshapeError
from orthanc_reshape.requests import parse_edit_request
from support import encoded_variants, random_nested_files

CONFIG = parse_config({"Reshape": {"Pseudonymization": {"Projects": {"default": {"Key": "k" * 32}}}}})


def _nested_private() -> dict:
    """A CT whose first referenced image item holds private blocks: one with a safe private attribute
    (ELSCINT1 (00E1,xx21), Annex E) and one that is not, in both explicit byte orders."""
    ds = make_ct_series(2, rows=16, columns=16)[0]
    item = ds.ReferencedImageSequence[0]
    item.add_new(0x00E10010, "LO", "ELSCINT1")
    item.add_new(0x00E11021, "DS", "12.5")
    item.add_new(0x00E11022, "LO", "not safe")
    item.add_new(0x00090010, "LO", "ACME 1.0")
    item.add_new(0x00091001, "LO", "secret")
    return {f"ct-nested-private-{name}": to_bytes(ds, syntax)
            for name, syntax in (("explicit", ExplicitVRLittleEndian), ("big", ExplicitVRBigEndian))}


def _nested_dates_and_name() -> dict:
    """A CT whose SourceImageSequence item holds a date and a date-time (both kept, and shifted, with
    ShiftDates), and whose first referenced image item holds the patient's name, in both explicit byte orders."""
    ds = make_ct_series(2, rows=16, columns=16)[0]
    source = ds.SourceImageSequence[0]
    source.add_new(0x00080020, "DA", "20200115")  # StudyDate
    source.add_new(0x0008002A, "DT", "20200115103000")  # AcquisitionDateTime
    ds.ReferencedImageSequence[0].add_new(0x00100010, "PN", str(ds.PatientName))
    return {f"ct-nested-dates-{name}": to_bytes(ds, syntax)
            for name, syntax in (("explicit", ExplicitVRLittleEndian), ("big", ExplicitVRBigEndian))}


FILES = dict(encoded_variants(), **_nested_private(), **_nested_dates_and_name(),
             **{p.name: p.read_bytes() for folder in PYDICOM_FILE_DIRS for p in sorted(folder.glob("*.dcm"))})

ANONYMIZATIONS = {
    "2023b": {},
    "2008": {"DicomVersion": "2008"},
    "keep-private": {"KeepPrivateTags": True},
    "kept-paths": {"Keep": ["ReferencedImageSequence", "SourceImageSequence[0].ReferencedSOPInstanceUID",
                            "StudyDescription"]},
    "paths": {"Replace": {"ReferencedImageSequence[*].ReferencedSOPInstanceUID": "1.2.3",
                          "ROIContourSequence[0].ROIDisplayColor": "1\\2\\3"},
              "Remove": ["RequestAttributesSequence[0].StudyInstanceUID", "ContentSequence[*].ValueType"]},
    "options": {"DicomVersion": "2026a", "Options": ["RetainSafePrivate", "RetainUIDs"]},
    "pseudonyms": {"Pseudonymize": True},
    "shifted-dates": {"ShiftDates": True},
}


def _uid_map() -> UidMap:
    """A UID map whose values depend on the original only, so that two runs give the same file."""
    return UidMap(lambda level, original: "2.25." + str(int(hashlib.sha1(f"{level}{original}".encode()).hexdigest(), 16)
                                                          % 10**30))


def _anonymized(data: bytes, body: dict) -> tuple:
    """(the anonymized file or None, the error it raised or None)."""
    request = parse_edit_request(body, True, CONFIG)
    plan = request.plan("1.12.4", patient_name=lambda: "Anonymized1")
    try:
        ds = read_dataset(data)
        request.deidentification.apply(ds, plan, _uid_map())
        return write_dataset(ds), None
    except ReshapeError as error:
        return None, (error.kind, error.details, error.field)
    except Exception as error:  # pydicom's, on a file it cannot write back
        return None, (type(error), str(error))


NAMES = [name for name in FILES if fast_read(FILES[name]) is not None]


@pytest.mark.parametrize("body", sorted(ANONYMIZATIONS))
@pytest.mark.parametrize("name", NAMES)
def test_the_raw_visitor_writes_what_the_parsed_one_writes(name, body, monkeypatch) -> None:
    raw = _anonymized(FILES[name], ANONYMIZATIONS[body])
    monkeypatch.setattr(edit, "_visit_raw_sequence", lambda *args: False)
    assert raw == _anonymized(FILES[name], ANONYMIZATIONS[body])


def _parsed_walks(monkeypatch) -> None:
    """From now on, the anonymization's visitor and the date shift parse every sequence (the reference path)."""
    monkeypatch.setattr(edit, "_visit_raw_sequence", lambda *args: False)
    monkeypatch.setattr(dates, "_shift_raw_sequence", lambda *args: None)


def _recorded(monkeypatch, module=edit, name: str = "_visit_raw_sequence") -> list:
    """(sequence tag, what the walk of its bytes answered) for every top-level sequence walked from now on by
    `module.name` (edit._visit_raw_sequence: whether its bytes were visited)."""
    outcomes = []
    walk = getattr(module, name)

    def recorded(ds, tag, *args):
        outcomes.append((tag, walk(ds, tag, *args)))
        return outcomes[-1][1]
    monkeypatch.setattr(module, name, recorded)
    return outcomes


def test_the_raw_visitor_is_taken_for_most_sequences(monkeypatch) -> None:
    """The comparison above means something only if the raw visitor runs: it must take most top-level
    sequences of the test files (declining the unusual ones)."""
    outcomes = _recorded(monkeypatch)
    for name in NAMES:
        _anonymized(FILES[name], {})
    taken = sum(visited for _, visited in outcomes)
    assert taken > 0.8 * len(outcomes) and taken > 100, (taken, len(outcomes))


def test_a_sequence_visited_on_its_bytes_stays_raw() -> None:
    """A sequence whose nested values changed goes back into the dataset as a raw element, which the writer
    copies: pydicom's __setitem__ would parse a private one (to find its creator). With KeepPrivateTags, the
    generated CT's private sequence keeps its item, whose SOPInstanceUID is remapped."""
    request = parse_edit_request(ANONYMIZATIONS["keep-private"], True, CONFIG)
    ds = read_dataset(FILES["ct-explicit"])
    own = ds.SOPInstanceUID.encode()
    request.deidentification.apply(ds, request.plan("1.12.4", patient_name=lambda: "Anonymized1"), _uid_map())
    private = ds._dict[0x00091010]
    assert isinstance(private, RawDataElement) and own not in private.value


def test_a_value_only_pydicom_can_decode_falls_back_to_the_parsed_visitor(monkeypatch) -> None:
    """A nested UID that is not ASCII cannot be read from its bytes: after the walk has begun, the sequence goes
    the parsed way, and the file is the parsed visitor's."""
    data = FILES["ct-explicit"]
    sequence = data.find(b"\x08\x00\x40\x11SQ")  # ReferencedImageSequence, explicit little endian
    position = data.find(b"\x08\x00\x55\x11UI", sequence) + 8  # its ReferencedSOPInstanceUID's value
    assert sequence > 0 and position > sequence
    changed = data[:position] + b"\xe9" + data[position + 1:]
    outcomes = _recorded(monkeypatch)
    raw = _anonymized(changed, {})
    assert (0x00081140, False) in outcomes and raw[0] is not None
    monkeypatch.setattr(edit, "_visit_raw_sequence", lambda *args: False)
    assert raw == _anonymized(changed, {})


@pytest.mark.parametrize("name", ["ct-nested-dates-explicit", "ct-nested-dates-big"])
def test_pseudonyms_and_date_shifts_run_on_the_bytes_of_sequences(name, monkeypatch) -> None:
    """With pseudonyms and shifted dates, the anonymization's visitor takes the bytes of the sequences, and so
    does the date shift: the nested date and date-time change there, the sequence staying raw. Only the sequence
    that holds a nested PatientName is parsed, for its pseudonym. The file is the parsed path's."""
    body = {"Pseudonymize": True, "ShiftDates": True}
    shifted = _recorded(monkeypatch, dates, "_shift_raw_sequence")
    outcomes = _recorded(monkeypatch)
    raw, error = _anonymized(FILES[name], body)
    assert error is None
    assert {tag for tag, visited in outcomes if visited} >= {0x00081032, 0x00081140, 0x00082112}
    assert (0x00082112, 2) in shifted  # SourceImageSequence: its date and date-time
    assert (0x00081140, None) in shifted  # ReferencedImageSequence: parsed for its nested name
    result = read_dataset(raw)
    assert isinstance(result._dict[0x00082112], RawDataElement)
    assert result.SourceImageSequence[0].StudyDate not in ("", "20200115")
    assert str(result.ReferencedImageSequence[0].PatientName) not in ("", "Doe^Jane")
    _parsed_walks(monkeypatch)
    assert _anonymized(FILES[name], body) == (raw, None)


def test_a_sequence_a_path_enters_is_visited_parsed_and_the_others_raw(monkeypatch) -> None:
    """Step 8 (path removals and replacements) parses the sequence a path enters: its bytes are not visited
    first; the other sequences still are."""
    outcomes = _recorded(monkeypatch)
    _anonymized(FILES["ct-explicit"], ANONYMIZATIONS["paths"])
    assert (0x00081140, False) in outcomes and any(taken for _, taken in outcomes), outcomes


@pytest.mark.filterwarnings("ignore")
def test_random_nested_values_anonymized_on_their_bytes_give_the_parsed_file(monkeypatch) -> None:
    """Random elements in sequence items (UIDs, names, dates, numbers, text of spaces only, several values), for
    every kind of anonymization in turn: the raw visitor and the raw date walk write what the parsed ones write."""
    bodies = sorted(ANONYMIZATIONS)
    for index, data in enumerate(random_nested_files(seed=11, count=40)):
        body = ANONYMIZATIONS[bodies[index % len(bodies)]]
        raw = _anonymized(data, body)
        with monkeypatch.context() as patch:
            _parsed_walks(patch)
            assert _anonymized(data, body) == raw, (index, body)
