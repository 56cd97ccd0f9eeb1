"""Date shifting (dicom/dates.py): whole days, same precision, intervals preserved, every depth."""
from __future__ import annotations

import copy
import datetime
import random
import warnings

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_files import PYDICOM_FILE_DIRS, make_ct_series, to_bytes
from orthanc_reshape.dicom import dates
from orthanc_reshape.dicom.dates import dates_of, shift_da, shift_dates, shift_dt, shift_value
from orthanc_reshape.dicom.files import read_dataset, write_dataset
from orthanc_reshape.dicom.values import element_vr
from support import encoded_variants, undefined_lengths


@pytest.mark.parametrize("value, days, expected", [
    ("20240102", 10, "20240112"),
    ("20240102", -2, "20231231"),
    ("20240228", 1, "20240229"),
    ("2024.01.02", 1, "20240103"),
    ("2024010", 1, None),
    ("20241301", 1, None),
    ("hello", 1, None),
])
def test_shift_da(value, days, expected):
    assert shift_da(value, days) == expected


@pytest.mark.parametrize("value, days, expected", [
    ("20240102101010", 1, "20240103101010"),
    ("20240102101010.123456+0100", -3, "20231230101010.123456+0100"),
    ("202403", 1, "202403"),      # partial: the 1st + 1 day, still March
    ("202403", -1, "202402"),     # partial: the 1st - 1 day is February
    ("2024", -1, "2023"),
    ("2024", 1, "2024"),
    ("20240102-0500", 1, "20240103-0500"),
    ("2024010210", 30, "2024020110"),
    ("2024x", 1, None),
    ("202401021010101", 1, None),
])
def test_shift_dt(value, days, expected):
    assert shift_dt(value, days) == expected


def test_multi_values_ranges_and_invalid_parts():
    assert shift_value("DA", "20240101\\20240102", 1) == "20240102\\20240103"
    assert shift_value("DA", "20240101-20240201", 1) == "20240102-20240202"
    assert shift_value("DA", "20240101-", 1) == "20240102-"
    assert shift_value("DA", "junk\\20240101", 1) == "\\20240102"


def _dataset() -> Dataset:
    ds = Dataset()
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010"
    ds.PatientAge = "054Y"
    ds.AcquisitionDateTime = "20240102101010"
    item = Dataset()
    item.ContentDate = "20240105"
    inner = Dataset()
    inner.ObservationDateTime = "20240110"
    item.ContentSequence = Sequence([inner])
    ds.ContentSequence = Sequence([item])
    block = ds.private_block(0x0009, "RESHAPE TEST", create=True)
    block.add_new(0x01, "DA", "20240103")
    ds.SeriesDate = ""
    return ds


def test_every_depth_and_private_elements_move_and_intervals_are_preserved():
    ds = _dataset()
    before = dict(dates_of(ds))
    assert shift_dates(ds, -40) == 5
    after = dict(dates_of(ds))
    assert set(before) == set(after)

    def day(value: str) -> datetime.date:
        return datetime.datetime.strptime(value[:8], "%Y%m%d").date()
    for path in before:
        assert day(after[path]) - day(before[path]) == datetime.timedelta(days=-40)
    assert ds.StudyTime == "101010" and ds.PatientAge == "054Y" and ds.SeriesDate == ""


def test_skip_protects_elements():
    ds = _dataset()
    shift_dates(ds, 5, skip=lambda parents, tag: not parents and tag == 0x00080020)
    assert ds.StudyDate == "20240102"
    assert ds.ContentSequence[0].ContentDate == "20240110"


# --- sequences still as read are shifted on their bytes ---------------------------------------------------------

FILES = dict(encoded_variants(), **{p.name: p.read_bytes() for folder in PYDICOM_FILE_DIRS
                                    for p in sorted(folder.glob("*.dcm"))})


def _shifted(data: bytes, parse_first: bool, days: int = 37) -> tuple:
    """(values changed, the file written) after shifting every date of a file; `parse_first`: its sequences
    parsed by pydicom first, so that the parsed walk runs."""
    ds = read_dataset(data)
    if parse_first:
        for tag in [t for t in ds.keys() if element_vr(ds, t) == "SQ"]:
            ds[tag].value  # noqa: B018 (pydicom parses the sequence)
    skip = lambda parents, tag: tag == 0x00080020 and not parents  # a protected top-level date
    return shift_dates(ds, days, skip), write_dataset(ds)


def _parsed_walk_writes(data: bytes) -> bool:
    try:
        _shifted(data, True)
    except Exception:  # pydicom cannot parse or write it back: nothing to compare with
        return False
    return True


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    SHIFTABLE = sorted(name for name, data in FILES.items() if _parsed_walk_writes(data))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", SHIFTABLE)
def test_a_sequence_shifted_on_its_bytes_gives_the_parsed_walk_s_file(name) -> None:
    assert _shifted(FILES[name], False) == _shifted(FILES[name], True)


@pytest.mark.filterwarnings("ignore")
def test_the_bytes_of_sequences_are_really_shifted(monkeypatch) -> None:
    """The comparison above means something only if the raw walk shifts nested dates in some of the test
    files."""
    counts = []
    shift = dates._shift_raw_sequence
    monkeypatch.setattr(dates, "_shift_raw_sequence", lambda *args: counts.append(shift(*args)) or counts[-1])
    for name in SHIFTABLE:
        _shifted(FILES[name], False)
    assert sum(1 for count in counts if count) >= 5, counts


_RANDOM_VALUES = ["20200115", "19991231", "2020.01.15", "2020011", "20201301", "", " ", "2024", "202403", "20240229",
                  "20240102101010.123456+0100", "20240102101010&0100", "2024010210", "abc", "20200115-20200120",
                  "-20200120", "20200115\\20200116", "\\", "20200115\\", "00010101", "99991231", "20200115 ",
                  "20200115\x00"]


@pytest.mark.filterwarnings("ignore")
def test_random_nested_dates_shifted_on_their_bytes_give_the_parsed_walk_s_file() -> None:
    """Random values (valid, invalid, partial, padded, several) in a sequence item, in 3 byte orders with defined
    and undefined lengths: the walk on the bytes writes what the parsed walk writes (or declines into it)."""
    rng = random.Random(7)
    base = make_ct_series(1, rows=8, columns=8)[0]
    for _ in range(40):
        ds = copy.deepcopy(base)
        for tag, vr in ((0x00080020, "DA"), (0x00080021, "DA"), (0x00080023, "DA"), (0x0008002A, "DT"),
                        (0x0040A120, "DT")):
            ds.SourceImageSequence[0].add_new(tag, vr, rng.choice(_RANDOM_VALUES))
        for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian):
            for variant in (ds, undefined_lengths(ds)):
                data, days = to_bytes(variant, syntax), rng.randint(-400, 400)
                assert _shifted(data, False, days) == _shifted(data, True, days), (syntax, days)
