"""De-identification profiles: the tag sets of each DicomVersion (spec §2.3, §2.4)."""
from __future__ import annotations

import pytest

from orthanc_reshape.dicom.profiles import in_ranges, load_profile, versions
from orthanc_reshape.dicom.tags import MAIN_IDENTIFIERS, PATIENT_ID, PATIENT_NAME, parse_tag

T = parse_tag


def test_the_four_versions_orthanc_knows_and_2026a():
    assert versions() == ("2008", "2017c", "2021b", "2023b", "2026a")


@pytest.mark.parametrize("version,remove,clear,uids,ranges", [
    ("2008", 39, 0, 8, 0),
    ("2017c", 216, 20, 31, 3),
    ("2021b", 317, 85, 47, 3),
    ("2023b", 408, 138, 51, 3),
])
def test_profile_sizes_match_orthancs_tables(version, remove, clear, uids, ranges):
    profile = load_profile(version)
    assert len(profile.remove) == remove
    assert len(profile.clear) == clear
    assert len(profile.uids - {PATIENT_ID, PATIENT_NAME}) == uids
    assert len(profile.ranges) == ranges


@pytest.mark.parametrize("version", ["2008", "2017c", "2021b", "2023b"])
def test_patient_id_and_name_join_the_uid_set(version):
    assert {PATIENT_ID, PATIENT_NAME} <= load_profile(version).uids


@pytest.mark.parametrize("version", ["2008", "2017c", "2021b", "2023b"])
def test_the_sets_are_disjoint(version):
    profile = load_profile(version)
    assert not profile.remove & profile.clear
    assert not profile.remove & profile.uids
    assert not profile.clear & profile.uids


@pytest.mark.parametrize("version", ["2008", "2017c", "2021b", "2023b"])
def test_main_identifiers_are_regenerated_not_in_a_set(version):
    profile = load_profile(version)
    for tag in MAIN_IDENTIFIERS:
        if tag != PATIENT_ID:
            assert tag not in profile.remove | profile.clear | profile.uids


@pytest.mark.parametrize("version", ["2008", "2017c", "2021b", "2023b"])
def test_image_references_are_kept_so_their_contents_get_remapped(version):
    profile = load_profile(version)
    for name in ("ReferencedImageSequence", "SourceImageSequence"):
        assert T(name) not in profile.remove | profile.clear


@pytest.mark.parametrize("version", ["2008", "2017c", "2021b", "2023b"])
def test_references_and_frames_of_reference_are_remapped(version):
    uids = load_profile(version).uids
    assert {T("ReferencedSOPInstanceUID"), T("FrameOfReferenceUID"), T("InstanceCreatorUID")} <= uids


@pytest.mark.parametrize("version", ["2017c", "2021b", "2023b"])
def test_dates_of_the_basic_profile(version):
    profile = load_profile(version)
    for name in ("StudyDate", "StudyTime", "ContentDate", "ContentTime", "PatientBirthDate", "AccessionNumber",
                 "StudyID"):
        assert T(name) in profile.clear, name
    for name in ("SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime",
                 "PatientBirthTime"):
        assert T(name) in profile.remove, name


def test_instance_creation_date_and_time_are_removed_only_in_2023b():
    for name in ("InstanceCreationDate", "InstanceCreationTime"):
        assert T(name) in load_profile("2023b").remove
        for version in ("2008", "2017c", "2021b"):
            profile = load_profile(version)
            assert T(name) not in profile.remove | profile.clear


def test_2008_leaves_dates_alone_except_the_birth_date_and_time():
    profile = load_profile("2008")
    assert {T("PatientBirthDate"), T("PatientBirthTime")} <= profile.remove
    for name in ("StudyDate", "SeriesDate", "ContentDate", "AcquisitionDate", "StudyTime"):
        assert T(name) not in profile.remove | profile.clear


def test_changes_from_2017c_to_2021b():
    old, new = load_profile("2017c"), load_profile("2021b")
    assert T("ModifyingDeviceManufacturer") in old.remove
    assert T("ModifyingDeviceManufacturer") not in new.remove | new.clear | new.uids
    assert T("DigitalSignatureUID") in old.remove and T("DigitalSignatureUID") in new.uids
    for name in ("ContentSequence", "VerifyingOrganization"):
        assert T(name) in old.remove and T(name) in new.clear


def test_changes_from_2021b_to_2023b():
    assert T("TreatmentSite") in load_profile("2021b").clear
    assert T("TreatmentSite") in load_profile("2023b").remove


@pytest.mark.parametrize("version", ["2017c", "2021b", "2023b"])
def test_usual_identifying_tags_are_removed(version):
    profile = load_profile(version)
    for name in ("InstitutionName", "InstitutionAddress", "StationName", "StudyDescription", "PatientComments",
                 "OtherPatientIDsSequence", "ReferencedStudySequence", "RequestAttributesSequence"):
        assert T(name) in profile.remove, name


@pytest.mark.parametrize("tag,inside", [
    (0x50000000, True), (0x50FFFFFF, True), (0x50101234, True), (0x51000000, False), (0x4FFF0000, False),
    (0x60003000, True), (0x60FE3000, True), (0x60004000, True), (0x60003001, False), (0x60000010, False),
    (0x61003000, False),
])
def test_curve_and_overlay_ranges(tag, inside):
    assert in_ranges(load_profile("2023b").ranges, tag) is inside


def test_2008_has_no_ranges():
    assert not in_ranges(load_profile("2008").ranges, 0x50000000)


@pytest.mark.parametrize("version,method", [
    ("2008", "Orthanc 1.12.4 - PS 3.15-2008 Table E.1-1"),
    ("2017c", "Orthanc 1.12.4 - PS 3.15-2017c Table E.1-1 Basic Profile"),
    ("2021b", "Orthanc 1.12.4 - PS 3.15-2021b Table E.1-1 Basic Profile"),
    ("2023b", "Orthanc 1.12.4 - PS 3.15-2023b Table E.1-1 Basic Profile"),
])
def test_deidentification_method_names_the_version(version, method):
    assert load_profile(version).deidentification_method.format(version="1.12.4") == method


def test_profiles_are_loaded_once():
    assert load_profile("2021b") is load_profile("2021b")


def test_an_unknown_version_is_a_key_error():
    with pytest.raises(KeyError):
        load_profile("2099z")
