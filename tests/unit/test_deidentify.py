"""Pseudonymize, ShiftDates and Options of anonymize requests, end to end on datasets (no server):
request parsing (requests.py) -> plan -> Deidentification.apply."""
from __future__ import annotations

import datetime

import pytest

from dicom_files import make_ct_series, make_rtstruct_for
from orthanc_reshape.config import ConfigurationError, parse_config
from orthanc_reshape.errors import ReshapeError
from orthanc_reshape.requests import parse_edit_request
from support import reread

KEY = "an example key, not a secret one"
CONFIG = parse_config({"Reshape": {"Pseudonymization": {"Projects": {"default": {"Key": KEY},
                                                                     "trial": {"Key": KEY + "!"}}}}})


def anonymize(datasets, body, config=CONFIG):
    request = parse_edit_request(body, True, config)
    plan = request.plan("1.12.4", patient_name=lambda: "Anonymized1")
    uid_map = request.deidentification.uid_map(config.uid_root)
    records = []
    out = []
    for ds in datasets:
        ds = reread(ds)
        records.append(request.deidentification.apply(ds, plan, uid_map))
        out.append(reread(ds))
    return out, records


def test_pseudonyms_are_the_same_in_two_requests_and_differ_between_projects():
    images = make_ct_series(2)
    first, records = anonymize(images, {"Pseudonymize": True})
    second, _ = anonymize(images, {"Pseudonymize": True})
    other, _ = anonymize(images, {"Pseudonymize": {"Project": "trial"}})
    for a, b, c in zip(first, second, other):
        for name in ("PatientID", "PatientName", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID",
                     "SOPInstanceUID", "FrameOfReferenceUID"):
            assert a.get(name) == b.get(name), name
            assert a.get(name) != c.get(name), name
            assert a.get(name) != images[0].get(name), name
    assert str(first[0].PatientName).startswith("PSEUDO")
    assert records[0]["PatientID"] == ["RESHAPE-0001", first[0].PatientID]
    assert records[0]["SOPInstanceUID"] == [images[0].SOPInstanceUID, first[0].SOPInstanceUID]
    assert [images[0].FrameOfReferenceUID, first[0].FrameOfReferenceUID] in records[0]["UIDs"]
    # References inside the series follow the keyed UIDs.
    assert first[1].ReferencedImageSequence[0].ReferencedSOPInstanceUID == first[0].SOPInstanceUID
    # The code sequence says Basic Profile.
    assert [item.CodeValue for item in first[0].DeidentificationMethodCodeSequence] == ["113100"]


def test_rtstruct_pseudonymized_in_a_separate_request_still_references_its_images():
    images = make_ct_series(3)
    structure = make_rtstruct_for(images)
    cts, _ = anonymize(images, {"Pseudonymize": True})
    (rt,), _ = anonymize([structure], {"Pseudonymize": True})
    frame = rt.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == cts[0].FrameOfReferenceUID
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == cts[0].StudyInstanceUID
    series = study.RTReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == cts[0].SeriesInstanceUID
    assert [i.ReferencedSOPInstanceUID for i in series.ContourImageSequence] == [c.SOPInstanceUID for c in cts]
    assert rt.StudyInstanceUID == cts[0].StudyInstanceUID and rt.PatientID == cts[0].PatientID


def test_without_pseudonymize_the_anonymization_is_orthancs():
    images = make_ct_series(1)
    (out,), (record,) = anonymize(images, {})
    assert out.PatientName == "Anonymized1" and record == {}
    assert "DeidentificationMethodCodeSequence" not in out


def _day(value: str) -> datetime.date:
    return datetime.datetime.strptime(value[:8], "%Y%m%d").date()


def test_shift_dates_retains_and_shifts_the_dates_of_the_option_column_and_keeps_intervals():
    image = make_ct_series(1, study_date="20240102")[0]
    image.InstanceCreationDate = "20240110"
    image.PatientBirthDate = "19700101"
    (out,), (record,) = anonymize([image], {"ShiftDates": {"MaxDays": 100}})
    days = record["DateOffsetDays"]
    assert 1 <= abs(days) <= 100
    for name in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        assert _day(out.get(name)) - _day(image.get(name)) == datetime.timedelta(days=days), name
    assert _day(out.InstanceCreationDate) - _day(out.StudyDate) == datetime.timedelta(days=8)
    assert out.StudyTime == image.StudyTime          # retained by the option, not moved by whole days
    assert out.PatientBirthDate == ""                 # the Basic Profile's Z: not in the option column
    assert "113107" in [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    # Same patient, another request: the same offset.
    (again,), _ = anonymize([image], {"ShiftDates": {"MaxDays": 100}})
    assert again.StudyDate == out.StudyDate


def test_shift_dates_leaves_the_requests_own_replacements_alone():
    image = make_ct_series(1)[0]
    (out,), _ = anonymize([image], {"ShiftDates": True, "Replace": {"StudyDate": "20000101"}})
    assert out.StudyDate == "20000101"


def test_requests_without_a_key_are_refused_with_the_way_to_configure_one():
    empty = parse_config({})
    for body, field in (({"Pseudonymize": True}, "Pseudonymize"), ({"ShiftDates": True}, "ShiftDates"),
                        ({"Pseudonymize": {"Project": "nope"}}, "Pseudonymize")):
        with pytest.raises(ReshapeError) as error:
            parse_edit_request(body, True, empty if field != "Pseudonymize" or "Project" not in str(body) else CONFIG)
        assert error.value.http_status == 400 and error.value.field == field
        assert "Pseudonymization" in error.value.details and "Key" in error.value.details


@pytest.mark.parametrize("body, field", [
    ({"Pseudonymize": "yes"}, "Pseudonymize"), ({"Pseudonymize": {"Project": 3}}, "Pseudonymize"),
    ({"ShiftDates": 3}, "ShiftDates"), ({"ShiftDates": {"MaxDays": 0}}, "ShiftDates"),
    ({"Options": "RetainUIDs"}, "Options"), ({"Options": ["Nope"]}, "Options[0]"),
    ({"Options": ["CleanPixelData"]}, "Options[0]"),
    ({"Options": ["RetainLongitudinalFullDates"], "ShiftDates": True}, "Options"),
])
def test_bad_members_are_400_naming_the_field(body, field):
    with pytest.raises(ReshapeError) as error:
        parse_edit_request(body, True, CONFIG)
    assert error.value.http_status == 400 and error.value.field == field


def test_modify_ignores_the_anonymize_members():
    request = parse_edit_request({"Pseudonymize": "whatever", "Options": 3}, False, CONFIG)
    assert not request.deidentification.active and request.options == ()


@pytest.mark.parametrize("section, message", [
    ({"Projects": {"default": {"Key": "short"}}}, "at least 16"),
    ({"Projects": {"a b": {"Key": KEY}}}, "project names"),
    ({"Projects": []}, "JSON object"),
    ({"UidRoot": "2.25."}, "UidRoot"),
    ({"ExportMapping": "yes"}, "ExportMapping"),
])
def test_bad_pseudonymization_configuration(section, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_config({"Reshape": {"Pseudonymization": section}})


def test_keyed_uids_use_the_pseudonymization_uid_root():
    config = parse_config({"Reshape": {"Pseudonymization": {"Projects": {"default": {"Key": KEY}},
                                                            "UidRoot": "1.2.3"}}})
    (out,), _ = anonymize(make_ct_series(1), {"Pseudonymize": True}, config)
    assert out.SOPInstanceUID.startswith("1.2.3.") and len(out.SOPInstanceUID) <= 64


def test_retain_uids_keeps_every_uid_and_reference():
    images = make_ct_series(2)
    out, _ = anonymize(images, {"Options": ["RetainUIDs"]})
    for before, after in zip(images, out):
        for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
            assert after.get(name) == before.get(name), name
        assert after.ReferencedImageSequence[0].ReferencedSOPInstanceUID == \
            before.ReferencedImageSequence[0].ReferencedSOPInstanceUID
    assert after.PatientID != before.PatientID


def test_nested_patient_names_are_pseudonymized_or_emptied():
    image = make_ct_series(1)[0]
    image.ReferencedImageSequence[0].PatientName = "Doe^Jane"
    image.SourceImageSequence[0].PatientName = "Somebody^Else"
    (out,), _ = anonymize([image], {"Pseudonymize": True})
    assert out.ReferencedImageSequence[0].PatientName == out.PatientName
    assert out.SourceImageSequence[0].PatientName == ""
    (plain,), _ = anonymize([image], {})
    assert plain.ReferencedImageSequence[0].PatientName == "Doe^Jane"  # Orthanc's behaviour without it
