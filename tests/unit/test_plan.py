"""Building the plan of a request (spec §1.1, §1.2, §2.3): the Force rule, conflicts, levels, profile set-up."""
from __future__ import annotations

import pytest

from orthanc_reshape.dicom.plan import (DEIDENTIFICATION_METHOD, PATIENT_IDENTITY_REMOVED, anonymization_plan,
                                        detect_level, modification_plan)
from orthanc_reshape.dicom.profiles import load_profile
from orthanc_reshape.dicom.tags import PATIENT_ID, PATIENT_NAME, SERIES_UID, SOP_UID, STUDY_UID, parse_tag
from orthanc_reshape.dicom.uids import Level
from orthanc_reshape.errors import ReshapeError
from support import ORTHANC_VERSION, paths, replacements

MAIN = ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]
T = parse_tag


def modification(replace=None, remove=(), keep=(), **options):
    return modification_plan(replacements(replace or {}), paths(remove), paths(keep, "Keep"), **options)


def anonymization(replace=None, remove=(), keep=(), version="2023b", names=None, **options):
    names = names if names is not None else []

    def patient_name():
        names.append("Anonymized7")
        return "Anonymized7"

    return anonymization_plan(load_profile(version), replacements(replace or {}), paths(remove),
                              paths(keep, "Keep"), orthanc_version=ORTHANC_VERSION, patient_name=patient_name,
                              **options)


def refused(call, *args, **kwargs) -> ReshapeError:
    with pytest.raises(ReshapeError) as caught:
        call(*args, **kwargs)
    return caught.value


class TestForceRule:
    @pytest.mark.parametrize("name", MAIN)
    @pytest.mark.parametrize("build", [modification, anonymization])
    def test_replacing_a_main_identifier_needs_force(self, build, name):
        error = refused(build, replace={name: "1.2.3"})
        assert (error.kind, error.http_status) == ("BadRequest", 400)
        assert error.field == f"Replace.{name}"
        assert "Force" in error.details and "replaced" in error.details

    @pytest.mark.parametrize("name", MAIN)
    @pytest.mark.parametrize("build", [modification, anonymization])
    def test_keeping_a_main_identifier_needs_force(self, build, name):
        error = refused(build, keep=[name])
        assert (error.kind, error.http_status, error.field) == ("BadRequest", 400, "Keep[0]")
        assert "Force" in error.details and "kept" in error.details

    @pytest.mark.parametrize("name", MAIN)
    def test_removing_a_main_identifier_needs_force(self, name):
        error = refused(modification, remove=["PatientName", name])
        assert (error.kind, error.http_status, error.field) == ("BadRequest", 400, "Remove[1]")
        assert "Force" in error.details and "removed" in error.details

    @pytest.mark.parametrize("name", MAIN)
    @pytest.mark.parametrize("build", [modification, anonymization])
    def test_removing_a_main_identifier_is_forbidden_even_with_force(self, build, name):
        error = refused(build, remove=[name], force=True)
        assert (error.kind, error.http_status, error.field) == ("BadRequest", 400, "Remove[0]")
        assert "forbidden to remove one of the main Dicom identifiers" in error.details

    @pytest.mark.parametrize("name", MAIN)
    def test_force_allows_replacing_and_keeping(self, name):
        tag = T(name)
        assert modification(replace={name: "1.2.3"}, force=True).replace[tag][0] == "1.2.3"
        plan = anonymization(keep=[name], force=True)
        assert tag in plan.keep and tag not in plan.uids

    @pytest.mark.parametrize("path", [
        "OtherPatientIDsSequence[0].PatientID", "ReferencedSeriesSequence[*].SeriesInstanceUID",
        "SourceImageSequence[1].SOPInstanceUID", "ReferencedStudySequence[0].StudyInstanceUID",
    ])
    def test_paths_with_a_sequence_prefix_need_no_force(self, path):
        plan = modification(replace={path: "x"}, remove=[path], keep=[path])
        assert len(plan.path_replaces) == 1 and len(plan.path_removes) == 1

    def test_a_non_string_sop_instance_uid_or_class_uid_is_refused(self):
        for name in ("SOPInstanceUID", "SOPClassUID"):
            error = refused(modification, replace={name: None}, force=True)
            assert (error.http_status, error.field) == (400, f"Replace.{name}")


class TestConflicts:
    """Remove, then Replace, then Keep: for one tag Keep beats Replace, and Replace beats Remove."""

    def test_replace_beats_remove(self):
        plan = modification(replace={"PatientName": "Doe"}, remove=["PatientName"])
        assert plan.replace[PATIENT_NAME][0] == "Doe"
        assert PATIENT_NAME not in plan.remove

    def test_keep_beats_replace(self):
        plan = modification(replace={"PatientName": "Doe"}, keep=["PatientName"])
        assert PATIENT_NAME not in plan.replace
        assert PATIENT_NAME in plan.keep

    def test_keep_beats_remove(self):
        plan = modification(remove=["InstitutionName"], keep=["InstitutionName"])
        assert T("InstitutionName") not in plan.remove
        assert T("InstitutionName") in plan.keep

    def test_keep_takes_a_tag_out_of_every_profile_set(self):
        plan = anonymization(keep=["AccessionNumber", "InstitutionName", "FrameOfReferenceUID"])
        assert T("AccessionNumber") not in plan.clear
        assert T("InstitutionName") not in plan.remove
        assert T("FrameOfReferenceUID") not in plan.uids

    def test_replace_takes_a_tag_out_of_the_profile_sets(self):
        plan = anonymization(replace={"StudyDate": "20000101", "InstitutionName": "X", "FrameOfReferenceUID": "1.2"})
        assert T("StudyDate") not in plan.clear
        assert T("InstitutionName") not in plan.remove
        assert T("FrameOfReferenceUID") not in plan.uids
        assert plan.replace[T("FrameOfReferenceUID")][0] == "1.2"

    def test_remove_takes_a_tag_out_of_the_clear_and_uid_sets(self):
        plan = anonymization(remove=["StudyDate", "FrameOfReferenceUID"])
        assert {T("StudyDate"), T("FrameOfReferenceUID")} <= plan.remove
        assert T("StudyDate") not in plan.clear
        assert T("FrameOfReferenceUID") not in plan.uids

    def test_paths_never_cancel_each_other(self):
        path = "DimensionIndexSequence[0].DimensionDescriptionLabel"
        plan = modification(replace={path: "x"}, remove=[path], keep=[path])
        assert [str(p) for p in plan.path_removes] == ["0020,9222[0].0020,9421"]
        assert [(str(p), v) for p, v, _ in plan.path_replaces] == [("0020,9222[0].0020,9421", "x")]
        assert [str(p) for p in plan.keep_paths] == ["0020,9222[0].0020,9421"]
        assert not plan.replace and not plan.remove and not plan.keep

    def test_a_path_does_not_cancel_the_top_level_tag(self):
        plan = modification(replace={"PatientName": "Doe"}, remove=["OtherPatientIDsSequence[0].PatientName"])
        assert plan.replace[PATIENT_NAME][0] == "Doe"

    def test_group_lengths_are_silently_skipped(self):
        plan = modification(replace={"0010,0000": "12", "PatientName": "Doe"})
        assert set(plan.replace) == {PATIENT_NAME}

    def test_replacements_remember_the_request_field(self):
        plan = modification(replace={"PatientName": "Doe", "ReferencedImageSequence[0].PatientName": "x"})
        assert plan.replace[PATIENT_NAME] == ("Doe", "Replace.PatientName")
        assert plan.path_replaces[0][2] == "Replace.ReferencedImageSequence[0].PatientName"


class TestLevelDetection:
    @pytest.mark.parametrize("replaced,level", [
        ([], Level.INSTANCE),
        (["PatientName"], Level.INSTANCE),
        (["SOPInstanceUID"], Level.INSTANCE),
        (["SeriesInstanceUID"], Level.SERIES),
        (["StudyInstanceUID"], Level.STUDY),
        (["StudyInstanceUID", "SeriesInstanceUID"], Level.STUDY),
        (["PatientID"], Level.PATIENT),
        (["SeriesInstanceUID", "PatientID"], Level.PATIENT),
    ])
    def test_the_highest_replaced_identifier_decides(self, replaced, level):
        assert detect_level(replacements({name: "1.2.3" for name in replaced})) == level
        assert modification(replace={name: "1.2.3" for name in replaced}, force=True).level == level

    def test_a_path_replacement_does_not_change_the_level(self):
        plan = modification(replace={"OtherPatientIDsSequence[0].PatientID": "x"})
        assert plan.level == Level.INSTANCE

    def test_kept_or_removed_identifiers_do_not_change_the_level(self):
        assert modification(keep=["PatientID", "StudyInstanceUID"], force=True).level == Level.INSTANCE

    def test_the_routes_level_wins(self):
        assert modification(level=Level.STUDY).level == Level.STUDY
        assert modification(replace={"PatientID": "x"}, force=True, level=Level.SERIES).level == Level.SERIES

    def test_anonymization_is_always_at_patient_level(self):
        assert anonymization().level == Level.PATIENT


class TestModificationPlan:
    def test_a_modification_has_no_profile(self):
        plan = modification(replace={"PatientName": "Doe"})
        assert not plan.is_anonymization
        assert not plan.remove and not plan.clear and not plan.uids and not plan.ranges
        assert not plan.remove_private

    def test_options_are_carried(self):
        plan = modification(remove_private=True, private_creator="ACME")
        assert plan.remove_private and plan.private_creator == "ACME"

    def test_no_deidentification_tags_on_modification(self):
        plan = modification()
        assert PATIENT_IDENTITY_REMOVED not in plan.replace and DEIDENTIFICATION_METHOD not in plan.replace


class TestAnonymizationPlan:
    def test_profile_sets_are_copied(self):
        plan = anonymization(version="2021b")
        profile = load_profile("2021b")
        assert plan.is_anonymization
        assert plan.remove == set(profile.remove)
        assert plan.clear == set(profile.clear)
        assert plan.uids == set(profile.uids) - {PATIENT_NAME}
        assert plan.ranges == profile.ranges

    def test_the_plan_does_not_alter_the_shared_profile(self):
        anonymization(keep=["InstitutionName"], remove=["StudyDate"])
        assert T("InstitutionName") in load_profile("2023b").remove
        assert T("StudyDate") in load_profile("2023b").clear

    def test_private_tags_are_removed_unless_kept(self):
        assert anonymization().remove_private
        assert not anonymization(keep_private=True).remove_private

    def test_patient_identity_removed_is_always_set(self):
        for options in ({}, {"replace": {"InstitutionName": "x"}}, {"keep": ["StudyDate"]}, {"keep_private": True}):
            assert anonymization(**options).replace[PATIENT_IDENTITY_REMOVED][0] == "YES"

    @pytest.mark.parametrize("version", ["2008", "2017c", "2021b", "2023b"])
    def test_an_untouched_profile_states_its_method(self, version):
        method = load_profile(version).deidentification_method.format(version=ORTHANC_VERSION)
        assert anonymization(version=version).replace[DEIDENTIFICATION_METHOD][0] == method

    @pytest.mark.parametrize("options", [
        {"remove": ["StudyDate"]}, {"keep": ["StudyDate"]}, {"keep_private": True},
        {"remove": ["ReferencedImageSequence[0].ReferencedSOPClassUID"]},
    ])
    def test_a_customised_profile_leaves_deidentification_method_alone(self, options):
        plan = anonymization(**options)
        assert DEIDENTIFICATION_METHOD not in plan.replace
        assert DEIDENTIFICATION_METHOD not in plan.remove

    @pytest.mark.parametrize("replace", [{"InstitutionName": "x"}, {"ReferencedImageSequence[0].PatientName": "x"}])
    def test_a_replace_makes_it_orthanc_and_the_version(self, replace):
        # Orthanc >= 1.12.7 (bug 240, test_issue_146).
        assert anonymization(replace=replace).replace[DEIDENTIFICATION_METHOD][0] == f"Orthanc {ORTHANC_VERSION}"

    def test_the_users_own_method_wins(self):
        plan = anonymization(replace={"DeidentificationMethod": "mine"})
        assert plan.replace[DEIDENTIFICATION_METHOD][0] == "mine"

    def test_keeping_deidentification_method_keeps_it_even_with_a_replace(self):
        plan = anonymization(replace={"InstitutionName": "x"}, keep=["DeidentificationMethod"])
        assert DEIDENTIFICATION_METHOD not in plan.replace
        assert DEIDENTIFICATION_METHOD in plan.keep

    def test_removing_deidentification_method_removes_it_even_with_a_replace(self):
        plan = anonymization(replace={"InstitutionName": "x"}, remove=["DeidentificationMethod"])
        assert DEIDENTIFICATION_METHOD not in plan.replace
        assert DEIDENTIFICATION_METHOD in plan.remove

    def test_patient_identity_removed_follows_keep_and_remove(self):
        assert PATIENT_IDENTITY_REMOVED in anonymization(remove=["PatientIdentityRemoved"]).remove
        assert PATIENT_IDENTITY_REMOVED not in anonymization(keep=["PatientIdentityRemoved"]).replace


class TestAnonymizedPatientName:
    def test_untouched_patient_name_becomes_anonymized_n_once(self):
        names = []
        plan = anonymization(names=names)
        assert plan.replace[PATIENT_NAME][0] == "Anonymized7"
        assert names == ["Anonymized7"]  # the counter moves once per request
        assert PATIENT_NAME not in plan.uids

    @pytest.mark.parametrize("options", [
        {"replace": {"PatientName": "Doe^John"}}, {"remove": ["PatientName"]}, {"keep": ["PatientName"]},
        {"replace": {"0010,0010": "Doe^John"}},
    ])
    def test_a_request_naming_patient_name_takes_no_counter_value(self, options):
        names = []
        plan = anonymization(names=names, **options)
        assert names == []
        assert plan.replace.get(PATIENT_NAME, ("Doe^John",))[0] == "Doe^John"

    def test_a_refused_request_takes_no_counter_value(self):
        names = []
        with pytest.raises(ReshapeError):
            anonymization(names=names, replace={"StudyInstanceUID": "1.2"})
        assert names == []

    def test_a_nested_patient_name_does_not_count(self):
        names = []
        anonymization(names=names, replace={"ReferencedImageSequence[0].PatientName": "x"})
        assert names == ["Anonymized7"]

    def test_patient_id_stays_in_the_uid_set(self):
        assert PATIENT_ID in anonymization().uids
        assert PATIENT_ID not in anonymization(keep=["PatientID"], force=True).uids

    def test_main_identifiers_are_not_in_the_uid_set(self):
        plan = anonymization()
        for tag in (STUDY_UID, SERIES_UID, SOP_UID):
            assert tag not in plan.uids
