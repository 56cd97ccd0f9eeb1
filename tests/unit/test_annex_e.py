"""Annex E options (dicom/annex_e.py): each option changes the profile as its column of Table E.1-1 says,
Retain Safe Private keeps exactly the listed private attributes, the 2026a Basic Profile, the codes."""
from __future__ import annotations

import json
import os

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_files import make_ct_series
from orthanc_reshape.config import parse_config
from orthanc_reshape.dicom import annex_e
from orthanc_reshape.dicom.profiles import load_profile
from orthanc_reshape.dicom.tags import PATIENT_ID, PATIENT_NAME, SERIES_UID, SOP_UID, STUDY_UID
from orthanc_reshape.requests import parse_edit_request
from support import reread

DATA = os.path.join(os.path.dirname(annex_e.__file__), "data", "annex-e.json")
CONFIG = parse_config({"Reshape": {"Pseudonymization": {"Projects": {"default": {"Key": "k" * 32}}}}})


def _rows():
    with open(DATA, encoding="utf-8") as f:
        return json.load(f)["attributes"]


def anonymize(ds: Dataset, body: dict) -> Dataset:
    request = parse_edit_request(body, True, CONFIG)
    plan = request.plan("1.12.4", patient_name=lambda: "Anonymized1")
    ds = reread(ds)
    request.deidentification.apply(ds, plan, request.deidentification.uid_map("2.25"))
    return reread(ds)


def test_the_ten_selectable_options_and_their_codes():
    assert set(annex_e.selectable_options()) == {
        "CleanGraphics", "CleanStructuredContent", "CleanDescriptors", "RetainLongitudinalFullDates",
        "RetainLongitudinalModifiedDates", "RetainPatientCharacteristics", "RetainDeviceIdentity",
        "RetainUIDs", "RetainSafePrivate", "RetainInstitutionIdentity"}
    codes = {name: option.code for name, option in annex_e.options().items()}
    assert codes["Basic"] == "113100" and codes["RetainInstitutionIdentity"] == "113112"
    assert sorted(codes.values()) == [str(code) for code in range(113100, 113113)]


@pytest.mark.parametrize("name", sorted(set(annex_e.selectable_options()) - {"RetainSafePrivate"}))
@pytest.mark.parametrize("version", ["2023b", "2026a"])
def test_each_option_takes_exactly_its_column_out_of_the_profile(name, version):
    base = load_profile(version)
    changed = annex_e.with_options(base, (name,))
    # K rows are retained; C rows only for the modified dates (shifted): elsewhere the Basic action stands.
    column = {int(r["tag"].replace(",", ""), 16) for r in _rows()
              if r.get("options", {}).get(name) in (("K", "C") if name == annex_e.MODIFIED_DATES else ("K",))
              and "x" not in r["tag"]}
    touched = (base.remove | base.clear | base.uids) - (changed.remove | changed.clear | changed.uids)
    assert touched == column & (base.remove | base.clear | base.uids)
    assert changed.remove <= base.remove and changed.clear <= base.clear and changed.uids <= base.uids


def test_clean_graphics_keeps_removing_curves_and_overlays():
    """Its column says C (clean): without a cleaner of graphics, the Basic removal stands."""
    profile = load_profile("2026a")
    assert annex_e.with_options(profile, ("CleanGraphics",)).ranges == profile.ranges


def test_the_2026a_profile_collapses_the_codes_like_orthanc():
    profile = load_profile("2026a")
    by_code = {}
    for row in _rows():
        if "x" in row["tag"] or row["tag"] == "gggg,eeee":
            continue
        by_code.setdefault(row["basic"], set()).add(int(row["tag"].replace(",", ""), 16))
    engine = {STUDY_UID, SERIES_UID, SOP_UID, PATIENT_ID, PATIENT_NAME}
    assert profile.remove == (by_code["X"] | by_code["X/Z"] | by_code["X/D"] | by_code["X/Z/D"]) - engine
    assert profile.clear == (by_code["Z"] | by_code["Z/D"] | by_code["D"]) - engine
    assert profile.uids - {PATIENT_ID, PATIENT_NAME} == by_code["U"] - engine
    assert not (profile.remove | profile.clear | profile.uids) & by_code["X/Z/U*"]
    assert len(profile.ranges) == 3
    older = load_profile("2023b")
    assert len((profile.remove | profile.clear | profile.uids) - (older.remove | older.clear | older.uids)) == 47


def test_2026a_is_a_dicom_version_of_requests():
    out = anonymize(make_ct_series(1)[0], {"DicomVersion": "2026a"})
    assert out.DeidentificationMethod == "Orthanc Reshape - PS 3.15-2026a Table E.1-1 Basic Profile"
    assert "InstitutionName" not in out and out.PatientName == "Anonymized1"


def test_options_change_what_the_standard_says_on_a_fixture():
    image = make_ct_series(1)[0]
    image.PatientWeight = "70"
    plain = anonymize(image, {})
    assert "InstitutionName" not in plain and "StationName" not in plain and "PatientAge" not in plain
    out = anonymize(image, {"Options": ["RetainInstitutionIdentity", "RetainDeviceIdentity",
                                        "RetainPatientCharacteristics", "CleanDescriptors"]})
    assert out.InstitutionName == image.InstitutionName
    assert out.StationName == image.StationName and out.DeviceSerialNumber == image.DeviceSerialNumber
    assert out.PatientAge == image.PatientAge and out.PatientSex == image.PatientSex
    # CleanDescriptors is C (clean): with no free-text cleaner, the descriptions stay removed (Basic X).
    assert "StudyDescription" not in out and "SeriesDescription" not in out
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == \
        ["113100", "113112", "113109", "113108", "113105"]
    assert list(out.DeidentificationMethod)[1:] == ["RetainInstitutionIdentity", "RetainDeviceIdentity",
                                                    "RetainPatientCharacteristics", "CleanDescriptors"]
    full = anonymize(image, {"Options": ["RetainLongitudinalFullDates"]})
    assert full.StudyDate == image.StudyDate and full.SeriesDate == image.SeriesDate


def _with_private(ds: Dataset) -> Dataset:
    ge = ds.private_block(0x0043, "GEMS_PARM_01", create=True)   # (0043,xx01) is not in the list
    ge.add_new(0x01, "LO", "FullFidelity")
    ge.add_new(0x27, "SH", "1234")                               # (0043,xx27) is: GEMS_PARM_01 / 0043 / 27
    other = ds.private_block(0x0011, "SOME VENDOR", create=True)
    other.add_new(0x01, "LO", "secret")
    item = Dataset()
    nested = item.private_block(0x0043, "GEMS_PARM_01", create=True)
    nested.add_new(0x27, "SH", "99")
    nested.add_new(0x01, "LO", "gone")
    ds.ReferencedImageSequence = Sequence([item])  # kept by the profile (X/Z/U*), its contents cleaned
    return ds


def test_retain_safe_private_keeps_exactly_the_listed_attributes():
    assert annex_e.is_safe_private("GEMS_PARM_01", 0x00431027)
    assert annex_e.is_safe_private("GEMS_PARM_01", 0x00431127)   # whatever block the creator reserved
    assert not annex_e.is_safe_private("GEMS_PARM_01", 0x00431001)
    ds = _with_private(make_ct_series(1)[0])  # also has an unsafe "RESHAPE TEST" block in group 0009
    out = anonymize(ds, {"Options": ["RetainSafePrivate"]})
    private = {tag: out[tag].value for tag in out.keys() if (tag >> 16) & 1}
    assert private == {0x00430010: "GEMS_PARM_01", 0x00431027: "1234"}
    nested = out.ReferencedImageSequence[0]
    assert {t: nested[t].value for t in nested.keys()} == {0x00430010: "GEMS_PARM_01", 0x00431027: "99"}
    plain = anonymize(ds, {})
    assert not [tag for tag in plain.keys() if (tag >> 16) & 1]


def test_clean_graphics_and_clean_structured_content_keep_the_basic_action():
    """Their columns say C (clean): the sequences are not retained uncleaned, the Basic action stands."""
    image = make_ct_series(1)[0]
    text = Dataset()
    text.UnformattedTextValue = "arrow"
    annotation = Dataset()
    annotation.GraphicLayer = "LAYER"
    annotation.TextObjectSequence = Sequence([text])
    image.GraphicAnnotationSequence = Sequence([annotation])
    content = Dataset()
    content.ValueType = "TEXT"
    content.TextValue = "finding"
    image.ContentSequence = Sequence([content])
    plain = anonymize(image, {})
    assert len(plain.GraphicAnnotationSequence) == 0 and len(plain.ContentSequence) == 0
    out = anonymize(image, {"Options": ["CleanGraphics", "CleanStructuredContent"]})
    assert len(out.GraphicAnnotationSequence) == 0 and len(out.ContentSequence) == 0
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == ["113100", "113103", "113104"]


def test_the_key_is_not_in_the_configurations_repr():
    assert "k" * 32 not in repr(CONFIG)
