"""Date shifting (dicom/dates.py): whole days, same precision, intervals preserved, every depth."""
from __future__ import annotations

import datetime

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from orthanc_reshape.dicom.dates import dates_of, shift_da, shift_dates, shift_dt, shift_value


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
